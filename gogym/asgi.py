"""`uvicorn gogym.asgi:app` — the API process, configured from the environment."""

from gogym.server import build_app

app = build_app()
