"""Building the payment pieces a process needs: the account directory and the provider.

The composition roots (gogym/server.py, workers/settings.py) call these. With no
MERCADOPAGO_ACCESS_TOKEN and SIMULATE_PROVIDERS on, the real adapter is pointed at the
built-in simulator (same code path as production, local money).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.crypto import SecretBox
from backend.integrations.mercadopago import MercadoPagoProvider
from backend.integrations.mercadopago_sim import PREFIX, SIM_ACCESS_TOKEN, SIM_WEBHOOK_SECRET
from backend.payments.accounts import AccountDirectory, db_loader
from backend.payments.provider import MerchantAccount
from backend.settings import Settings


def uses_simulator(settings: Settings) -> bool:
    return settings.simulate_providers and not settings.mercadopago_access_token


def api_base_url(settings: Settings) -> str:
    """Explicit MERCADOPAGO_API_BASE_URL wins; in simulated mode, this server's simulator."""
    if settings.mercadopago_api_base_url:
        return settings.mercadopago_api_base_url
    if uses_simulator(settings):
        return settings.public_base_url.rstrip("/") + PREFIX
    return ""


def default_account(settings: Settings) -> MerchantAccount | None:
    if settings.mercadopago_access_token:
        return MerchantAccount(
            settings.mercadopago_access_token, settings.mercadopago_webhook_secret
        )
    if uses_simulator(settings):
        return MerchantAccount(SIM_ACCESS_TOKEN, SIM_WEBHOOK_SECRET)
    return None


def build_accounts(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession] | None
) -> AccountDirectory:
    load = db_loader(sessionmaker, SecretBox.from_settings(settings)) if sessionmaker else None
    return AccountDirectory(default_account(settings), load)


def build_provider(settings: Settings, accounts: AccountDirectory) -> MercadoPagoProvider:
    return MercadoPagoProvider(
        accounts,
        base_url=api_base_url(settings),
        timeout=settings.mercadopago_timeout_seconds,
        max_retries=settings.mercadopago_max_retries,
    )
