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

    checkin_cooldown_hours: int = 3
    # Replies ready within this many seconds go back in the webhook answer (TwiML).
    inline_reply_seconds: float = 8.0
    outbox_poll_seconds: float = 2.0
    outbox_max_attempts: int = 6
    db_pool_size: int = 10

    @model_validator(mode="after")
    def _refuse_demo_secrets(self) -> Settings:
        if self.gogym_env == "production":
            weak = {
                "SECRET_KEY": self.secret_key == DEV_SECRET_KEY,
                "TWILIO_AUTH_TOKEN": self.twilio_auth_token == DEV_TWILIO_AUTH_TOKEN,
                "SIMULATE_PROVIDERS": self.simulate_providers,
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
