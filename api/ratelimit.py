"""Request rate limits on the API: per token and per client address, 429 with Retry-After.

Each is a token bucket that holds a minute's allowance (so a client may burst that much) and
refills evenly. The buckets live in the process: with N replicas a client gets up to N times
the allowance, which still bounds abuse; a shared limit belongs in the proxy in front. Only
`/api/` paths are limited (the pages have their own sign-in throttle). A limit of 0 is off.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import problem

LIMITED_PREFIX = "/api/"
MAX_BUCKETS = 50_000  # least recently seen buckets make way: memory stays bounded


class Buckets:
    """Token buckets by key, each holding at most `per_minute` requests."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Spend one request; 0 when allowed, else the seconds until one is available."""
        now = self.clock()
        tokens, seen = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - seen) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return wait


class RateLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        per_token_per_minute: int,
        per_address_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.tokens = Buckets(per_token_per_minute, clock) if per_token_per_minute else None
        self.addresses = Buckets(per_address_per_minute, clock) if per_address_per_minute else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIX):
            await self.app(scope, receive, send)
            return
        wait = 0.0
        if self.addresses is not None:
            client = scope.get("client")
            wait = self.addresses.take(f"address:{client[0] if client else '-'}")
        token = _bearer(scope)
        if not wait and self.tokens is not None and token is not None:
            wait = self.tokens.take(f"token:{hashlib.sha256(token).hexdigest()[:32]}")
        if wait:
            await _refuse(scope, receive, send, wait)
            return
        await self.app(scope, receive, send)


def _bearer(scope: Scope) -> bytes | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, wait: float) -> None:
    seconds = max(1, math.ceil(wait))
    refusal = problem(429, f"too many requests; try again in {seconds} s", slug="rate-limited")
    refusal.headers["Retry-After"] = str(seconds)
    await refusal(scope, receive, send)
