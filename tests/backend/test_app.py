"""The app's fast lane: routes served from the ASGI entry point answer like the others."""

from __future__ import annotations

import httpx
from fastapi import Request, Response

from backend.app import create_app
from backend.errors import Forbidden


def _app() -> httpx.AsyncClient:
    async def hook(request: Request) -> Response:
        kind = (await request.body()).decode()
        if kind == "forbidden":
            raise Forbidden("Prohibido.", "Forbidden.")
        if kind == "boom":
            raise RuntimeError("secret internals")
        return Response(f"ok {request.app.title}")

    app = create_app([])
    app.add_fast_route("/hook", hook, methods=["POST"], summary="A hook", tags=["hooks"])
    assert set(app.fast_routes) == {("POST", "/hook")}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_fast_route_answers_with_the_app_in_scope() -> None:
    async with _app() as client:
        response = await client.post("/hook", content=b"hi")
    assert response.status_code == 200 and response.text == "ok GoGym"


async def test_fast_route_errors_get_the_apps_bilingual_answers() -> None:
    async with _app() as client:
        forbidden = await client.post("/hook", content=b"forbidden")
        boom = await client.post("/hook", content=b"boom")
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["message_es"] == "Prohibido."
    assert boom.status_code == 500
    assert boom.json()["error"]["code"] == "internal_error"
    assert "secret" not in boom.text


async def test_other_methods_and_paths_still_go_through_the_router() -> None:
    async with _app() as client:
        wrong_method = await client.get("/hook")
        health = await client.get("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert health.json() == {"status": "ok"}


async def test_fast_route_is_documented_in_the_schema() -> None:
    async with _app() as client:
        spec = (await client.get("/openapi.json")).json()
    assert spec["paths"]["/hook"]["post"]["summary"] == "A hook"
    assert spec["paths"]["/hook"]["post"]["tags"] == ["hooks"]
