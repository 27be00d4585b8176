"""An app on the test database, a world of stakeholders, and a token for each of them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import httpx2
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from states import Role, Side
from tests.helpers import T0, World, make_world
from workflow import commands


@dataclass
class Api:
    """A client plus the bearer header of every stakeholder (and an administrator)."""

    client: TestClient
    world: World
    clock: list[datetime]
    tokens: dict[tuple[Side, Role], str] = field(default_factory=dict)
    admin_token: str = ""

    def auth(self, side: Side, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[(side, role)]}"}

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}


@pytest.fixture
def api(engine: Engine, session: Session) -> Iterator[Api]:
    world = make_world(session)
    clock = [T0]
    tokens = {
        key: commands.create_token(session, actor=None, user_id=actor.user_id, now=T0)[1]
        for key, actor in world.parties.actors.items()
    }
    admin = commands.create_user(
        session,
        actor=None,
        email="admin@accord.example",
        name="Ada Admin",
        organization_id=world.parties.provider_org_id,
        is_admin=True,
        now=T0,
    )
    assert admin.id is not None
    _, admin_token = commands.create_token(session, actor=None, user_id=admin.id, now=T0)
    app = create_app(engine, clock=lambda: clock[0])
    with TestClient(app) as client:
        yield Api(client, world, clock, tokens, admin_token)


@pytest.fixture
def live(api: Api, engine: Engine) -> Iterator[str]:
    """The same app and database as `api`, served by uvicorn on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(engine, clock=lambda: api.world.now)  # the world's clock, not the wall's
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as probe:
        for _ in range(200):
            try:
                if probe.get("/healthz").status_code == 200:
                    break
            except httpx2.TransportError:
                threading.Event().wait(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
