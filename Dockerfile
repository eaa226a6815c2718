FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend backend
COPY bot bot
COPY dialogs dialogs
COPY workers workers
COPY gogym gogym
COPY nlu_data nlu_data
RUN pip install --no-cache-dir . && gogym nlu train
EXPOSE 8000
CMD ["gogym", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
