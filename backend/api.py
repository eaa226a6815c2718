"""Shared REST plumbing: the per-request transaction and cursor pagination.

Every `/api/v1` route takes its session from `get_session` and lists with `paginate`, so a
request commits once at its edge and every list answers `{"items": [...], "next_cursor"}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.db import transaction
from backend.errors import InvalidInput, error_body
from backend.types import UTCDateTime

log = logging.getLogger(__name__)

T = TypeVar("T")

# Where `get_session` leaves the request's sessions for `CommitBeforeResponse`.
_SESSIONS_KEY = "gogym.sessions"
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed before the answer leaves, rolled back on error.

    FastAPI ends a yield dependency after the response is sent, too late to report a failed
    commit; `CommitBeforeResponse` (installed by `create_app`) commits as the response
    starts, so a client never sees a 2xx for work that was not stored.
    """
    async with transaction(request.app.state.sessionmaker) as session:
        pending = request.scope.get(_SESSIONS_KEY)
        if pending is not None:
            pending.append(session)
        yield session


class CommitBeforeResponse:
    """ASGI middleware: commit the request's session (answers < 400) or roll it back (>= 400)
    just before the response starts; a failed commit turns the answer into a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sessions: list[AsyncSession] = []
        scope[_SESSIONS_KEY] = sessions
        failed = False

        async def guarded_send(message: Message) -> None:
            nonlocal failed
            if failed:
                return
            if message["type"] == "http.response.start" and sessions:
                try:
                    for session in sessions:
                        if message["status"] < 400:
                            await session.commit()
                        else:
                            await session.rollback()
                except Exception:
                    log.exception("commit before response failed")
                    failed = True
                    for session in sessions:
                        await session.rollback()
                    await _send_json(send, 500, _INTERNAL_ERROR)
                    return
            await send(message)

        await self.app(scope, receive, guarded_send)


_INTERNAL_ERROR = error_body(
    "internal_error",
    "Ocurrió un error; inténtalo de nuevo.",
    "Something went wrong; please try again.",
)


async def _send_json(send: Send, status: int, body: dict[str, object]) -> None:
    raw = json.dumps(body).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


# --- cursor pagination ----------------------------------------------------------------------


class Page(BaseModel, Generic[T]):
    """One page of a list: `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None


def page_params(
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size."),
    cursor: str | None = Query(None, description="`next_cursor` of the previous page."),
) -> PageParams:
    """FastAPI dependency for `?limit=&cursor=` (`params: PageParams = Depends(page_params)`)."""
    return PageParams(limit=limit, cursor=cursor)


def encode_cursor(values: Sequence[Any]) -> str:
    """Opaque URL-safe cursor for the sort key of the last row of a page."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    """The sort key a cursor holds, typed like `columns`; a tampered cursor is a 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        plain = json.loads(raw)
        if not isinstance(plain, list) or len(plain) != len(columns):
            raise ValueError("wrong cursor length")
        values: list[Any] = []
        for column, value in zip(columns, plain, strict=True):
            if isinstance(column.type, UTCDateTime):
                parsed = datetime.fromisoformat(value)
                if parsed.tzinfo is None:
                    raise ValueError("naive datetime in cursor")
                values.append(parsed)
            elif isinstance(value, int | str) and not isinstance(value, bool):
                values.append(value)
            else:
                raise ValueError("unexpected cursor value")
        return values
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "El cursor de paginación no es válido.",
            "The pagination cursor is not valid.",
            {"field": "cursor"},
        ) from exc


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    params: PageParams,
    order_by: Sequence[InstrumentedAttribute[Any]],
    *,
    descending: bool = True,
) -> tuple[list[Any], str | None]:
    """Keyset pagination of `stmt` (a `select(Model)` already filtered and gym-scoped).

    `order_by` is a unique sort key, e.g. `(Member.created_at, Member.id)` or `(Plan.id,)`.
    Returns the page's rows and the cursor of the next page (None on the last one).
    """
    if params.cursor is not None:
        stmt = stmt.where(_after(order_by, decode_cursor(params.cursor, order_by), descending))
    ordering = [c.desc() if descending else c.asc() for c in order_by]
    rows = list((await session.scalars(stmt.order_by(*ordering).limit(params.limit + 1))).all())
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last = rows[-1]
    return rows, encode_cursor([getattr(last, c.key) for c in order_by])


def _after(
    columns: Sequence[InstrumentedAttribute[Any]], values: Sequence[Any], descending: bool
) -> Any:
    """Rows strictly after `values` in the (lexicographic) sort order, written out as ORs
    so it runs on SQLite and PostgreSQL alike."""
    clauses = []
    for i, column in enumerate(columns):
        beyond = column < values[i] if descending else column > values[i]
        equal = [columns[j] == values[j] for j in range(i)]
        clauses.append(and_(*equal, beyond) if equal else beyond)
    return or_(*clauses)
