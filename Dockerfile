FROM python:3.11-slim
# WeasyPrint (CFDI PDFs through satcfdi) needs Pango and a font at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    libharfbuzz0b fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
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
