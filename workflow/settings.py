"""Configuration from `ACCORD_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACCORD_", extra="ignore")

    database_url: str = "sqlite:///./accord.db"
    base_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Streamed uploads (paths ending in `measurements:csv`) are read incrementally, so they
    # may be far larger than other bodies without costing memory; 1 GiB by default.
    max_upload_bytes: int = Field(default=1_073_741_824, ge=1024)
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    scheduler: Literal["inprocess", "off"] = "inprocess"
    # Mail delivery (notifications/senders.py, notifications/dispatch.py).
    mail_backend: Literal["file", "smtp", "console", "memory"] = "file"
    mail_from: str = "Accord <accord@localhost>"
    mail_dir: Path = Path("var/mail")  # the `file` backend: one .eml per message
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_local_hostname: str | None = None  # EHLO name; None asks the OS (may query DNS)
    dispatch_batch: int = Field(default=50, ge=1, le=1000)
    # A claimed row is invisible to other dispatchers until its lease ends; a dispatcher
    # stops starting sends once half of it is spent, so it must outlast several timeouts.
    dispatch_lease_seconds: float = Field(default=300.0, gt=0)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    retry_horizon_hours: float = Field(default=48.0, gt=0)
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    # Signs the pages' session and CSRF cookies. Unset, each process draws its own at start,
    # so sessions end at a restart and do not cross replicas: set it for any real deployment.
    secret_key: SecretStr | None = Field(default=None, min_length=32)
    metrics_enabled: bool = True
    # API requests a minute per bearer token and per client address (api/ratelimit.py);
    # 0 switches a limit off. Behind a proxy, run uvicorn with --proxy-headers.
    rate_limit_per_minute: int = Field(default=600, ge=0)
    rate_limit_address_per_minute: int = Field(default=1200, ge=0)

    @model_validator(mode="after")
    def _lease_outlasts_sends(self) -> Self:
        if self.dispatch_lease_seconds < 4 * self.smtp_timeout_seconds:
            raise ValueError(
                "ACCORD_DISPATCH_LEASE_SECONDS must be at least 4 x ACCORD_SMTP_TIMEOUT_SECONDS"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
