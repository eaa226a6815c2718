"""Which Mercado Pago account serves a gym, and its secrets.

The environment holds the default account (the demo gym's, or a single-gym install); a gym
with its own account keeps it in `gym_payment_accounts`, encrypted with `backend.crypto`.
`AccountDirectory` keeps every account decrypted in memory for a short while so provider
calls and webhook checks do not read the database each time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.crypto import SecretBox
from backend.db import read_only
from backend.members.service import audit
from backend.payments.models import GymPaymentAccount
from backend.payments.provider import MerchantAccount

Loader = Callable[[], Awaitable[Sequence[MerchantAccount]]]


async def save_account(
    session: AsyncSession,
    box: SecretBox,
    *,
    gym_id: int,
    user_id: str,
    access_token: str,
    webhook_secret: str,
    public_key: str,
    actor: str,
    now: datetime,
) -> GymPaymentAccount:
    """Store (or replace) a gym's own account; the secrets never leave encrypted."""
    row = await session.get(GymPaymentAccount, gym_id)
    if row is None:
        row = GymPaymentAccount(gym_id=gym_id, created_at=now)
        session.add(row)
    row.provider, row.user_id, row.public_key = "mercadopago", user_id, public_key
    row.access_token_encrypted = box.encrypt(access_token)
    row.webhook_secret_encrypted = box.encrypt(webhook_secret)
    row.updated_at = now
    await session.flush()
    await audit(
        session, gym_id, actor, "payment_account.saved", "gym", gym_id, {"user_id": user_id}
    )
    return row


async def load_accounts(session: AsyncSession, box: SecretBox) -> list[MerchantAccount]:
    rows = (await session.scalars(select(GymPaymentAccount))).all()
    return [
        MerchantAccount(
            access_token=box.decrypt(r.access_token_encrypted),
            webhook_secret=box.decrypt(r.webhook_secret_encrypted),
            user_id=r.user_id,
            gym_id=r.gym_id,
            public_key=r.public_key,
        )
        for r in rows
    ]


def db_loader(sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox) -> Loader:
    async def load() -> Sequence[MerchantAccount]:
        # Called while a chat turn may hold SQLite's write lock: read without taking it.
        async with read_only(sessionmaker) as session:
            return await load_accounts(session, box)

    return load


class AccountDirectory:
    """Accounts by gym and by Mercado Pago user id; the default one for every other gym."""

    def __init__(
        self, default: MerchantAccount | None, load: Loader | None = None, ttl: float = 60.0
    ) -> None:
        self.default = default
        self._load = load
        self._ttl = ttl
        self._by_gym: dict[int, MerchantAccount] = {}
        self._by_user: dict[str, MerchantAccount] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    async def _fresh(self) -> None:
        if self._load is None or time.monotonic() - self._loaded_at < self._ttl:
            return
        async with self._lock:
            if time.monotonic() - self._loaded_at < self._ttl:
                return
            accounts = await self._load()
            self._by_gym = {a.gym_id: a for a in accounts if a.gym_id is not None}
            self._by_user = {a.user_id: a for a in accounts if a.user_id}
            self._loaded_at = time.monotonic()

    async def for_gym(self, gym_id: int | None) -> MerchantAccount | None:
        await self._fresh()
        if gym_id is not None and gym_id in self._by_gym:
            return self._by_gym[gym_id]
        return self.default

    async def for_user(self, user_id: str | None) -> MerchantAccount | None:
        """The account a webhook came from (its `user_id`); unknown ids fall to the default."""
        await self._fresh()
        if user_id and user_id in self._by_user:
            return self._by_user[user_id]
        return self.default

    async def own_account_gyms(self) -> set[int]:
        await self._fresh()
        return set(self._by_gym)

    async def accounts(self) -> list[MerchantAccount]:
        await self._fresh()
        found = list(self._by_gym.values())
        return [self.default, *found] if self.default else found

    async def access_token(self, gym_id: int | None) -> str:
        account = await self.for_gym(gym_id)
        return account.access_token if account else ""

    async def serves(self, account: MerchantAccount, gym_id: int) -> bool:
        """True when `account` is the one that collects for `gym_id`."""
        return (await self.for_gym(gym_id)) == account
