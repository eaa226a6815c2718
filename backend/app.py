"""The FastAPI application factory: error handling, health, and the routers it is given."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from backend.api import CommitBeforeResponse
from backend.errors import DomainError, error_body

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _error(
    status: int, code: str, es: str, en: str, details: dict[str, object] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, es, en, details), status_code=status)


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse(exc.as_json(), status_code=exc.status_code, headers=exc.headers or None)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return _error(
            400,
            "malformed_json",
            "El cuerpo de la solicitud no es JSON válido.",
            "The request body is not valid JSON.",
        )
    problems = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
        for e in exc.errors()
    ]
    fields = ", ".join(p["field"] for p in problems)
    return _error(
        422,
        "invalid_input",
        f"Datos inválidos: {fields}",
        f"Invalid input: {fields}",
        {"fields": problems},
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _error(404, "not_found", "No encontrado.", "Not found.")
    if exc.status_code == 405:
        return _error(405, "method_not_allowed", "Método no permitido.", "Method not allowed.")
    return _error(exc.status_code, "http_error", str(exc.detail), str(exc.detail))


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return _error(
        500,
        "internal_error",
        "Ocurrió un error; inténtalo de nuevo.",
        "Something went wrong; please try again.",
    )


async def _health() -> dict[str, str]:
    return {"status": "ok"}


class GoGymApp(FastAPI):
    """FastAPI with a fast lane: chosen plain routes (`add_fast_route`) are answered from the
    ASGI entry point, without FastAPI's middleware stack and router. The WhatsApp webhook
    is the busiest route, and those layers cost about 5% of its CPU per message. A fast
    route's errors get the same answers the app's exception handlers give."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fast_routes: dict[tuple[str, str], Endpoint] = {}

    def add_fast_route(
        self, path: str, endpoint: Endpoint, methods: Sequence[str], **doc: Any
    ) -> None:
        """A route answered from the entry point for `methods`. The router has it too, for
        the OpenAPI schema (`doc`: summary, tags, openapi_extra…) and so that other methods
        get its 405; the endpoint takes the Request and parses it itself."""
        self.add_api_route(path, endpoint, methods=list(methods), **doc)
        for method in methods:
            self.fast_routes[(method.upper(), path)] = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.fast_routes.get((scope["method"], scope["path"]))
            if endpoint is not None:
                scope["app"] = self
                request = Request(scope, receive)
                try:
                    response = await endpoint(request)
                except DomainError as exc:
                    response = await _domain_error(request, exc)
                except Exception as exc:
                    response = await _unexpected(request, exc)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(routers: Sequence[APIRouter], lifespan: Lifespan | None = None) -> GoGymApp:
    app = GoGymApp(title="GoGym", version="0.1.0", lifespan=lifespan)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(CommitBeforeResponse)
    app.add_api_route("/healthz", _health, methods=["GET"], tags=["ops"])
    for router in routers:
        app.include_router(router)
    return app
