"""Configuration from `ACCORD_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACCORD_", extra="ignore")

    database_url: str = "sqlite:///./accord.db"
    base_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    scheduler: Literal["inprocess", "off"] = "inprocess"
    mail_backend: Literal["file", "smtp", "console"] = "file"
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    metrics_enabled: bool = True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
