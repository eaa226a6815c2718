"""Reference point for the webhook benchmark: the least a webhook can do on this stack.

Parses Twilio's form, checks the signature, inserts one row, answers empty TwiML — no
dialogue, no lock, no dedupe. `bench/run_webhook_bench.sh` serves it with 2 workers and
drives it with the same load generator, so the full path's cost can be read against it.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from sqlalchemy import insert

from backend.conversations.models import Message
from backend.db import make_engine, make_sessionmaker
from backend.integrations.twilio import TwilioSignature
from backend.settings import get_settings

PATH = "/webhooks/twilio/whatsapp"
settings = get_settings()
sessionmaker = make_sessionmaker(make_engine(settings))
signer = TwilioSignature(settings.twilio_auth_token)
app = FastAPI()


@app.post(PATH)
async def inbound(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signer.is_valid(settings.public_base_url + PATH, form, signature):
        return Response(status_code=403)
    async with sessionmaker() as session:
        await session.execute(
            insert(Message).values(
                gym_id=1,
                channel="whatsapp",
                direction="in",
                provider_id=form["MessageSid"],
                address=form["From"],
                body=form.get("Body", ""),
                status="received",
            )
        )
        await session.commit()
    return Response("<Response/>", media_type="application/xml")
