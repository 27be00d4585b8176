"""Rate limits: a token or an address past its minute's allowance gets 429 with Retry-After;
the allowance refills evenly; other tokens, addresses and the pages are not affected."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.ratelimit import Buckets, RateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _app(clock: Clock, *, per_token: int, per_address: int) -> TestClient:
    app = FastAPI()

    @app.get("/api/v1/ping")
    def ping() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/approvals")
    def page() -> dict[str, str]:
        return {"status": "page"}

    app.add_middleware(
        RateLimit,
        per_token_per_minute=per_token,
        per_address_per_minute=per_address,
        clock=clock,
    )
    return TestClient(app)


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_past_its_allowance_gets_429_with_retry_after() -> None:
    clock = Clock()
    client = _app(clock, per_token=3, per_address=0)
    statuses = [client.get("/api/v1/ping", headers=_as("alpha")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/v1/ping", headers=_as("alpha"))
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    assert refused.headers["retry-after"] == "20"  # 3 a minute: one every 20 s
    assert client.get("/api/v1/ping", headers=_as("beta")).status_code == 200
    assert client.get("/approvals", headers=_as("alpha")).status_code == 200
    clock.now += 20.0
    assert client.get("/api/v1/ping", headers=_as("alpha")).status_code == 200
    assert client.get("/api/v1/ping", headers=_as("alpha")).status_code == 429


def test_an_address_is_limited_whatever_tokens_it_sprays() -> None:
    clock = Clock()
    client = _app(clock, per_token=0, per_address=2)
    statuses = [client.get("/api/v1/ping", headers=_as(f"guess-{n}")).status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    clock.now += 30.0
    assert client.get("/api/v1/ping").status_code == 200


def test_limits_of_zero_are_off() -> None:
    client = _app(Clock(), per_token=0, per_address=0)
    assert {client.get("/api/v1/ping", headers=_as("a")).status_code for _ in range(50)} == {200}


def test_buckets_stay_bounded_and_refill_to_their_capacity() -> None:
    clock = Clock()
    buckets = Buckets(60, clock)
    assert [buckets.take("k") for _ in range(60)] == [0.0] * 60
    assert buckets.take("k") == 1.0
    clock.now += 3600.0  # an hour idle refills one minute's allowance, not sixty
    assert [buckets.take("k") for _ in range(60)] == [0.0] * 60
    assert buckets.take("k") > 0
