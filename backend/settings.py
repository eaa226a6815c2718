"""Settings from the environment (and an optional `.env`); every one is in `.env.example`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only defaults: refused when GOGYM_ENV=production (see `_refuse_demo_secrets`).
DEV_TWILIO_ACCOUNT_SID = "AC00000000000000000000000000000000"
DEV_TWILIO_AUTH_TOKEN = "dev-twilio-auth-token-not-secret"
DEV_SECRET_KEY = "dev-secret-key-not-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    gogym_env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./gogym.db"
    redis_url: str = ""
    secret_key: str = DEV_SECRET_KEY
    public_base_url: str = "http://127.0.0.1:8000"

    twilio_account_sid: str = DEV_TWILIO_ACCOUNT_SID
    twilio_auth_token: str = DEV_TWILIO_AUTH_TOKEN
    twilio_api_base_url: str = ""
    simulate_providers: bool = True

    nlu_model_dir: Path = Path("models")
    nlu_data_dir: Path = Path("nlu_data")
    nlu_confidence_threshold: float = Field(default=0.45, ge=0.0, le=1.0)

    # Optional LLM assist for low-confidence messages (any OpenAI-compatible server).
    openai_api_key: str = ""
    openai_base_url: str = ""
    openai_model: str = "gpt-4o-mini"
    openai_timeout_seconds: float = Field(default=2.5, gt=0.0, le=30.0)

    checkin_cooldown_hours: int = 3
    # Replies ready within this many seconds go back in the webhook answer (TwiML).
    inline_reply_seconds: float = 8.0
    outbox_poll_seconds: float = 2.0
    outbox_max_attempts: int = 6
    db_pool_size: int = 20

    # Approved WhatsApp templates (Content SIDs) for proactive notices that may reach a
    # member outside the 24-hour window: {"payment_reminder": "HX…", "access_suspended": "HX…",
    # "payment_received": "HX…"}. JSON in the environment.
    whatsapp_templates: dict[str, str] = Field(default_factory=dict)
    # Embedded mode: how often the in-process scheduler runs the billing cycle and dunning.
    billing_interval_minutes: int = Field(default=60, ge=1)

    # REST API auth: access JWT lifetime, refresh-token lifetime, and fixed-window rate
    # limits (requests per window) per user or API key, per client IP, and for login and
    # refresh attempts per client IP.
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86400)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    rate_limit_per_principal: int = Field(default=600, ge=1)
    rate_limit_per_ip: int = Field(default=1200, ge=1)
    rate_limit_auth_per_ip: int = Field(default=20, ge=1)

    # Mercado Pago: the demo gym's account (other gyms keep theirs in the database,
    # encrypted). Empty token with SIMULATE_PROVIDERS: the built-in simulator.
    mercadopago_access_token: str = ""
    mercadopago_webhook_secret: str = ""
    mercadopago_api_base_url: str = ""
    mercadopago_timeout_seconds: float = Field(default=5.0, gt=0.0, le=60.0)
    mercadopago_max_retries: int = Field(default=2, ge=0, le=5)
    mercadopago_webhook_tolerance_seconds: int = Field(default=600, ge=10)
    # Fernet keys (comma-separated, first encrypts) for secrets stored in the database;
    # empty: derived from SECRET_KEY.
    data_encryption_key: str = ""

    # CFDI 4.0 (issue #6). The demo gym's CSD: paths to the .cer and .key and the key's
    # password (`gogym demo` makes a self-signed test CSD when none is given). PAC_PROVIDER
    # picks the stamping service; `simulated` stamps locally, NOT fiscally valid.
    cfdi_csd_cer: str = ""
    cfdi_csd_key: str = ""
    cfdi_csd_password: str = ""
    pac_provider: Literal["simulated", "finkok", "swsapien", "diverza"] = "simulated"
    pac_environment: Literal["test", "production"] = "test"
    pac_username: str = ""
    pac_password: str = ""
    pac_token: str = ""
    # Overrides the provider's host (a local fake PAC in tests); empty: the real one.
    pac_base_url: str = ""
    pac_timeout_seconds: float = Field(default=20.0, gt=0.0, le=120.0)
    # Stamping retries with backoff; staff are alerted after this many failed attempts.
    cfdi_alert_after_attempts: int = Field(default=3, ge=1)
    # How long a CFDI link sent on WhatsApp works (signed, expiring URL).
    cfdi_media_ttl_minutes: int = Field(default=24 * 60, ge=5)

    @model_validator(mode="after")
    def _refuse_demo_secrets(self) -> Settings:
        if self.gogym_env == "production":
            weak = {
                # HS256 JWTs need at least a 256-bit key (RFC 7518 §3.2).
                "SECRET_KEY": self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32,
                "TWILIO_AUTH_TOKEN": self.twilio_auth_token == DEV_TWILIO_AUTH_TOKEN,
                "SIMULATE_PROVIDERS": self.simulate_providers,
                "PAC_PROVIDER": self.pac_provider == "simulated",
            }
            bad = [name for name, is_bad in weak.items() if is_bad]
            if bad:
                raise ValueError(f"production needs real values for: {', '.join(bad)}")
        return self

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def uses_arq(self) -> bool:
        return bool(self.redis_url)


@lru_cache
def get_settings() -> Settings:
    return Settings()
