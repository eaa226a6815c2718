"""What a process needs to do backend work: settings, database, queue, message sender."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.db import make_engine
from backend.integrations.fake_payments import FakePaymentProvider
from backend.integrations.twilio import TwilioMessageSender
from backend.jobs import JobQueue
from backend.messaging.sender import MessageSender
from backend.payments.provider import PaymentProvider
from backend.settings import Settings

SIM_TWILIO_PREFIX = "/_sim/twilio"


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    sender: MessageSender
    # Issue #5 brings the Mercado Pago adapter; until then saved cards are charged by the
    # in-process fake (the embedded demo and tests).
    payments: PaymentProvider = field(default_factory=FakePaymentProvider)
    jobs: JobQueue | None = None

    @property
    def status_callback_url(self) -> str:
        return self.settings.public_base_url.rstrip("/") + "/webhooks/twilio/status"

    def use_jobs(self, jobs: JobQueue) -> None:
        """Put the queue where services find it: in every new session's `info`."""
        self.jobs = jobs
        self.sessionmaker.kw["info"] = {"jobs": jobs}

    async def close(self) -> None:
        await self.engine.dispose()


def twilio_api_base_url(settings: Settings) -> str:
    """Explicit TWILIO_API_BASE_URL wins; in simulated mode, the server's own simulator."""
    if settings.twilio_api_base_url:
        return settings.twilio_api_base_url
    if settings.simulate_providers:
        return settings.public_base_url.rstrip("/") + SIM_TWILIO_PREFIX
    return ""


def build_runtime(
    settings: Settings,
    sender: MessageSender | None = None,
    payments: PaymentProvider | None = None,
) -> Runtime:
    engine = make_engine(settings)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    sender = sender or TwilioMessageSender(
        settings.twilio_account_sid, settings.twilio_auth_token, twilio_api_base_url(settings)
    )
    return Runtime(settings, engine, sessionmaker, sender, payments or FakePaymentProvider())
