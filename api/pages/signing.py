"""HMAC signatures for the pages' cookies, under ACCORD_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from workflow.settings import get_settings


@lru_cache(maxsize=1)
def _key() -> bytes:
    configured = get_settings().secret_key
    if configured is not None:
        return configured.get_secret_value().encode()
    # Without a configured key, one per process: cookies then die with the process.
    return secrets.token_bytes(32)


def digest(purpose: str, value: str) -> str:
    """A MAC of `value` for one purpose, so a MAC made for one cookie is no use in another."""
    mac = hmac.new(_key(), f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def sign(purpose: str, value: str) -> str:
    return f"{value}.{digest(purpose, value)}"


def unsign(purpose: str, signed: str | None) -> str | None:
    """The value if the signature is good; None for a missing, forged or altered one."""
    if not signed or "." not in signed:
        return None
    value, _, mac = signed.rpartition(".")
    return value if hmac.compare_digest(mac, digest(purpose, value)) else None
