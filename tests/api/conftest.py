"""An app on the test database, a world of stakeholders, and a token for each of them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest
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
