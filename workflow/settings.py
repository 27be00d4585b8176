"""Configuration from `ACCORD_*` environment variables."""

from __future__ import annotations

import os
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PREFIX = "ACCORD_"
ENV_FILE = ".env"
MIN_SECRET_CHARS = 32
# ACCORD_* variables that are not settings of the service: the test suite's own knobs.
NOT_SETTINGS = ("ACCORD_TEST_", "ACCORD_CRASH_", "ACCORD_FUZZ_", "ACCORD_STATEFUL_")


class Settings(BaseSettings):
    """Every setting, read from ACCORD_* variables (and a `.env` file in the working
    directory when there is one; real variables win), validated when first read."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, extra="ignore", env_file=ENV_FILE, env_file_encoding="utf-8"
    )

    database_url: str = "sqlite:///./accord.db"
    base_url: str = "http://127.0.0.1:8000"
    # Session and CSRF cookies carry Secure: by default when base_url is https.
    cookie_secure: bool | None = None
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
    secret_key: SecretStr | None = None
    metrics_enabled: bool = True
    # `json`: one JSON object per log line (request id, route, status, duration, user, ...).
    log_format: Literal["text", "json"] = "text"
    # OpenTelemetry traces over OTLP (the `otel` extra; OTEL_EXPORTER_OTLP_* name the collector).
    otel_enabled: bool = False
    # API requests a minute per bearer token and per client address (api/ratelimit.py);
    # 0 switches a limit off. Behind a proxy, set ACCORD_FORWARDED_ALLOW_IPS.
    rate_limit_per_minute: int = Field(default=600, ge=0)
    rate_limit_address_per_minute: int = Field(default=1200, ge=0)
    # Proxies whose X-Forwarded-For is believed (comma-separated addresses, or "*").
    forwarded_allow_ips: str = "127.0.0.1"

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {value!r}") from exc
        if backend not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"{backend} is not supported; use sqlite:/// or postgresql://")
        return value

    @field_validator("base_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// address, got {value!r}")
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters (a random string)")
        return value

    @field_validator("mail_from")
    @classmethod
    def _sender_address(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError(f"not an email address: {value!r}")
        return value

    @property
    def served_over_https(self) -> bool:
        return self.base_url.lower().startswith("https://")

    @property
    def cookies_secure(self) -> bool:
        return self.served_over_https if self.cookie_secure is None else self.cookie_secure

    @model_validator(mode="after")
    def _https_means_secure_cookies(self) -> Self:
        if self.served_over_https and self.cookie_secure is False:
            raise ValueError(
                "ACCORD_COOKIE_SECURE cannot be false when ACCORD_BASE_URL is https: "
                "sign-in cookies would travel without TLS"
            )
        return self

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


def configuration_error(exc: ValidationError) -> str:
    """One line naming each bad variable, e.g. `ACCORD_SMTP_PORT: Input should be …`."""
    problems = []
    for error in exc.errors():
        where = "".join(str(part) for part in error["loc"][:1]).upper()
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{PREFIX}{where}: {message}" if where else message)
    return "invalid configuration: " + "; ".join(problems)


def unknown_variables(environ: dict[str, str] | None = None) -> list[str]:
    """ACCORD_* variables that name no setting (a typo is ignored, so it is worth saying)."""
    names = {f"{PREFIX}{name.upper()}" for name in Settings.model_fields}
    return sorted(
        key
        for key in (os.environ if environ is None else environ)
        if key.startswith(PREFIX) and key not in names and not key.startswith(NOT_SETTINGS)
    )
