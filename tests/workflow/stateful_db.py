"""The database the stateful lifecycle test runs on: its people, made once, and a way back
to just them before every example."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from states import Role, Side
from tests.helpers import T0, C, P, make_world
from workflow import audit, commands
from workflow.access import Actor
from workflow.example import Parties

# Besides the eighteen stakeholders: a user of a third organisation, and on each side a
# colleague who holds no role (a delegate, or a caller who may read but not act).
STRANGER = "stranger"
COLLEAGUES = {C: "customer colleague", P: "provider colleague"}
Who = tuple[Side, Role] | str


@dataclass
class Seed:
    """The people, made once per database; every example starts from them alone."""

    engine: Engine
    parties: Parties
    document: dict[str, Any]
    people: dict[Who, Actor]


def without_fsync(engine: Engine) -> Engine:
    """Commits that do not wait for the disk: a throwaway database needs no durability, and
    waiting for it was half of the run's time. Nothing else about the engine changes."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")
        else:
            cursor.execute("SET synchronous_commit TO OFF")
        cursor.close()
        if engine.dialect.name == "postgresql":
            dbapi_conn.commit()

    return engine


def seed_people(engine: Engine) -> Seed:
    with Session(engine, expire_on_commit=False) as session:
        world = make_world(session)
        people: dict[Who, Actor] = {}
        for key, actor in world.parties.actors.items():
            people[key] = actor
        third = commands.create_organization(session, actor=None, name="Third", now=T0)
        assert third.id is not None
        orgs = {
            STRANGER: third.id,
            COLLEAGUES[C]: world.parties.customer_org_id,
            COLLEAGUES[P]: world.parties.provider_org_id,
        }
        for n, (who, org_id) in enumerate(orgs.items()):
            user = commands.create_user(
                session,
                actor=None,
                email=f"person{n}@example.org",
                name=str(who).title(),
                organization_id=org_id,
                now=T0,
            )
            people[who] = Actor.of(user)
        return Seed(engine, world.parties, world.document, people)


KEPT = {"organization", "user_account"}


def clear(engine: Engine) -> None:
    """Every row but the organisations and people, in one transaction (DELETE is much faster
    than TRUNCATE on tables this small); the audit table's guards are lifted meanwhile."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            audit.drop_append_only_guards(conn)
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name not in KEPT:
                conn.execute(table.delete())
        if conn.dialect.name == "sqlite":
            audit.install_append_only_guards(conn)
