"""One config object, read from NURTURE_* environment variables (and a local .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NURTURE_", env_file=".env", extra="ignore")

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://localhost:8233"
    task_queue: str = "nurture"
    database_url: str = "sqlite:///.nurture/nurture.db"
    scenarios_dir: Path = Path("scenarios")
    outbox_dir: Path = Path(".nurture/outbox")
    public_base_url: str = "http://localhost:8000"
    secret_key: str = Field(
        default="dev-only-secret-change-me",
        description="signs unsubscribe tokens; set a long random value in production",
    )
    handoff_webhook_url: str | None = None
    handoff_webhook_secret: str | None = None
    worker_max_cached_workflows: int = 10_000
    sendgrid_webhook_public_key: str | None = Field(
        default=None, description="SendGrid Event Webhook verification key (base64 DER)"
    )
    sendgrid_webhook_max_age: int = Field(default=600, description="seconds a signature is valid")
    frequency_cap_per_week: int = Field(
        default=3, ge=0, description="nurture emails per lead per rolling 7 days; 0: no cap"
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
