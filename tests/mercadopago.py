"""Drive payments the way Mercado Pago does: the simulator as the provider's API, signed
notifications posted to our real webhook, and the notification jobs run on demand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.integrations.mercadopago import MercadoPagoProvider
from backend.integrations.mercadopago_sim import MercadoPagoSimulator, Notification
from backend.payments.accounts import AccountDirectory
from backend.payments.notifications import PROCESS_JOB, process_notification
from backend.types import utcnow
from tests.whatsapp import RecordingJobs

WEBHOOK = "/webhooks/mercadopago"


@dataclass
class MercadoPago:
    client: httpx.AsyncClient
    sim: MercadoPagoSimulator
    provider: MercadoPagoProvider
    sessionmaker: async_sessionmaker[AsyncSession]
    jobs: RecordingJobs
    accounts: AccountDirectory

    async def deliver(
        self, note: Notification, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST a notification to our webhook exactly as Mercado Pago would."""
        return await self.client.post(
            WEBHOOK,
            params=note.query,
            content=httpx.Request("POST", "/", json=note.body).content,
            headers={**note.headers, **(headers or {})},
        )

    async def notify(self, payment_id: str | int, action: str = "payment.updated") -> Any:
        note = self.sim.notification_for(str(payment_id), action)
        response = await self.deliver(note)
        assert response.status_code == 200, response.text
        return response.json()

    def pending_jobs(self) -> list[int]:
        ids = [args[0] for name, args, _ in self.jobs.enqueued if name == PROCESS_JOB]
        self.jobs.enqueued = [e for e in self.jobs.enqueued if e[0] != PROCESS_JOB]
        return ids

    async def process(self) -> list[str]:
        """Run the notification jobs enqueued so far, one after another."""
        return [
            await process_notification(
                self.sessionmaker, self.provider, self.accounts, notification_id, utcnow()
            )
            for notification_id in self.pending_jobs()
        ]

    async def settle(self, payment_id: str | int, action: str = "payment.updated") -> list[str]:
        await self.notify(payment_id, action)
        return await self.process()
