"""Reference points for the webhook benchmark: the least a webhook can do on this machine.

Parses Twilio's form and checks the signature; then, by BENCH_BARE_DB:
- `sqlalchemy` (default): inserts one row in a transaction through SQLAlchemy async, as the
  product does;
- `asyncpg`: the same insert through a raw asyncpg pool (the leanest driver path);
- `none`: no database at all (the HTTP + form + signature floor).
No dialogue, no lock, no dedupe. `bench/run_webhook_bench.sh` serves each with 2 workers and
drives it with the same load generator, so the full path's cost can be read against them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response
from sqlalchemy import insert

from backend.conversations.models import Message
from backend.db import make_engine, make_sessionmaker
from backend.integrations.twilio import TwilioSignature
from backend.settings import get_settings

PATH = "/webhooks/twilio/whatsapp"
MODE = os.environ.get("BENCH_BARE_DB", "sqlalchemy")
RAW_INSERT = (
    "INSERT INTO messages (gym_id, channel, direction, provider_id, address, body, status,"
    " created_at) VALUES (1, 'whatsapp', 'in', $1, $2, $3, 'received', now())"
)
settings = get_settings()
sessionmaker = make_sessionmaker(make_engine(settings))
signer = TwilioSignature(settings.twilio_auth_token)
state: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    if MODE == "asyncpg":
        dsn = settings.database_url.replace("postgresql+asyncpg", "postgresql")
        state["pool"] = await asyncpg.create_pool(dsn, min_size=10, max_size=20)
    yield
    if "pool" in state:
        await state["pool"].close()


app = FastAPI(lifespan=lifespan)


@app.post(PATH)
async def inbound(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signer.is_valid(settings.public_base_url + PATH, form, signature):
        return Response(status_code=403)
    sid, sender, body = form["MessageSid"], form["From"], form.get("Body", "")
    if MODE == "sqlalchemy":
        async with sessionmaker() as session:
            await session.execute(
                insert(Message).values(
                    gym_id=1,
                    channel="whatsapp",
                    direction="in",
                    provider_id=sid,
                    address=sender,
                    body=body,
                    status="received",
                )
            )
            await session.commit()
    elif MODE == "asyncpg":
        async with state["pool"].acquire() as conn, conn.transaction():
            await conn.execute(RAW_INSERT, sid, sender, body)
    return Response("<Response/>", media_type="application/xml")


if __name__ == "__main__":  # served as `gogym serve --workers N` serves: one socket each
    import sys

    import uvicorn

    from gogym.serving import serve_workers

    port, workers = int(sys.argv[1]), int(sys.argv[2])
    config = uvicorn.Config("bench.bare_app:app", port=port, log_level="info", access_log=False)
    sys.exit(serve_workers(config, workers))
