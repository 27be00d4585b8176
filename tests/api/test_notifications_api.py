"""The outbox over HTTP and the CLI: administrators list it and requeue dead messages; users
choose immediate mail or a daily digest. A dead letter comes from a real SMTP server's 554."""

from __future__ import annotations

import json
import random
from typing import Annotated, Any

import typer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

from api.cli.app import OneLineErrors
from api.cli.common import CliState
from api.cli.notifications import notifications_app
from notifications.dispatch import DispatchCounts, basic_renderer, dispatch_once
from notifications.senders import SmtpSender
from states import Role
from tests.api.conftest import Api
from tests.helpers import C
from tests.notifications.smtp import HOST, Mailbox, smtp_server
from workflow.models import AuditEvent, OutboxMessage, User

URL = "/api/v1/notifications"


def _lifecycle_step(api: Api) -> int:
    """An agreement submitted for review: three outbox rows (two review tasks, one state
    change for every stakeholder). Returns the agreement's id."""
    world = api.world
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    assert agreement.id is not None
    return agreement.id


def _dispatch(engine: Engine, port: int, api: Api) -> DispatchCounts:
    return dispatch_once(
        engine,
        sender=SmtpSender(HOST, port, timeout=5.0, local_hostname="client.accord.test"),
        renderer=basic_renderer(sender="Accord <accord@accord.test>", base_url="http://a.test"),
        now=api.world.tick(),
        rng=random.Random(3),
    )


def _system_events(engine: Engine, action: str) -> list[dict[str, Any]]:
    with Session(engine) as s:
        bodies = s.exec(
            select(AuditEvent.body)
            .where(AuditEvent.chain == "system", AuditEvent.action == action)
            .order_by(col(AuditEvent.seq))
        ).all()
    return [json.loads(b) for b in bodies]


def test_only_administrators_see_the_outbox(api: Api) -> None:
    _lifecycle_step(api)
    assert api.client.get(URL).status_code == 401
    refused = api.client.get(URL, headers=api.auth(C, Role.PROGRAM_MANAGER))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert (
        api.client.post(f"{URL}/1/retry", headers=api.auth(C, Role.PROGRAM_MANAGER)).status_code
        == 403
    )
    assert api.client.get(URL, headers=api.admin).status_code == 200


def test_the_outbox_is_listed_newest_first_by_status_with_a_cursor(api: Api) -> None:
    _lifecycle_step(api)
    everything = api.client.get(URL, headers=api.admin).json()
    ids = [n["id"] for n in everything["items"]]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 3
    assert everything["next_cursor"] is None
    first = everything["items"][-1]
    assert {k: first[k] for k in ("status", "attempts", "last_error", "sent_at")} == {
        "status": "pending",
        "attempts": 0,
        "last_error": None,
        "sent_at": None,
    }

    page1 = api.client.get(URL, params={"limit": 2}, headers=api.admin).json()
    page2 = api.client.get(
        URL, params={"limit": 2, "cursor": page1["next_cursor"]}, headers=api.admin
    ).json()
    assert [n["id"] for n in page1["items"] + page2["items"]] == ids
    assert page2["next_cursor"] is None

    pending = api.client.get(URL, params={"status": "pending"}, headers=api.admin).json()
    assert len(pending["items"]) == 3
    assert api.client.get(URL, params={"status": "dead"}, headers=api.admin).json()["items"] == []
    by_topic = api.client.get(URL, params={"topic": "task.assigned"}, headers=api.admin).json()
    assert {n["topic"] for n in by_topic["items"]} == {"task.assigned"}
    bad = api.client.get(URL, params={"status": "lost"}, headers=api.admin)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "status"


def test_a_5xx_dead_letter_is_visible_and_retryable_over_http(api: Api, engine: Engine) -> None:
    sla_id = _lifecycle_step(api)
    mailbox = Mailbox(replies=["554 5.7.1 Rejected by policy"] * 2)
    with smtp_server(mailbox) as server:
        counts = _dispatch(engine, server.port, api)
        # The first two emails were refused: their rows (the two review tasks) are dead.
        assert (counts.dead, counts.sent) == (2, 1)
        dead = api.client.get(URL, params={"status": "dead"}, headers=api.admin).json()["items"]
        assert len(dead) == 2
        assert all(n["last_error"] == "permanent: SMTP 554 5.7.1 Rejected by policy" for n in dead)
        target = dead[0]["id"]
        detail = api.client.get(f"{URL}/{target}", headers=api.admin).json()
        assert detail["payload"]["agreement"]["id"] == sla_id
        assert detail["deliveries"] == []

        retried = api.client.post(f"{URL}/{target}/retry", headers=api.admin)
        assert retried.status_code == 200
        assert {k: retried.json()[k] for k in ("status", "attempts")} == {
            "status": "pending",
            "attempts": 0,
        }
        again = api.client.post(f"{URL}/{target}/retry", headers=api.admin)
        assert again.status_code == 409
        assert "only a dead notification" in again.json()["detail"]
        assert api.client.post(f"{URL}/999999/retry", headers=api.admin).status_code == 404

        counts = _dispatch(engine, server.port, api)
    assert counts.sent == 1
    sent = api.client.get(f"{URL}/{target}", headers=api.admin).json()
    assert sent["status"] == "sent"
    assert [d["channel"] for d in sent["deliveries"]] == ["to"]
    (event,) = _system_events(engine, "notification.retried")
    assert event["data"]["outbox_id"] == target
    assert event["data"]["last_error"] == "permanent: SMTP 554 5.7.1 Rejected by policy"
    verified = api.client.get("/api/v1/audit/verify", headers=api.admin).json()
    assert verified["ok"] is True


def test_users_choose_immediate_mail_or_a_daily_digest(api: Api, engine: Engine) -> None:
    me = api.auth(C, Role.BUSINESS_OWNER)
    path = "/api/v1/me/notification-settings"
    assert api.client.get(path, headers=me).json() == {"mode": "immediate"}
    changed = api.client.put(path, json={"mode": "digest"}, headers=me)
    assert changed.status_code == 200
    assert changed.json() == {"mode": "digest"}
    assert api.client.get(path, headers=me).json() == {"mode": "digest"}
    assert api.client.put(path, json={"mode": "weekly"}, headers=me).status_code == 422
    user_id = api.world.who(C, Role.BUSINESS_OWNER).user_id
    (event,) = _system_events(engine, "user.notification_mode_changed")
    assert event["data"] == {"user_id": user_id, "from": "immediate", "to": "digest"}


# ---- the CLI ---------------------------------------------------------------------------------


def _cli(database_url: str, *args: str) -> Result:
    """`accord --database-url URL notifications ...` through a root like api.cli's."""
    root = typer.Typer(cls=OneLineErrors)

    @root.callback()
    def _options(
        ctx: typer.Context, database_url: Annotated[str, typer.Option("--database-url")]
    ) -> None:
        ctx.obj = CliState(database_url)

    root.add_typer(notifications_app, name="notifications")
    return CliRunner().invoke(root, ["--database-url", database_url, "notifications", *args])


def test_the_cli_lists_retries_and_sets_modes(api: Api, engine: Engine, database_url: str) -> None:
    _lifecycle_step(api)
    with smtp_server(Mailbox(replies=["550 5.1.1 No such mailbox"])) as server:
        _dispatch(engine, server.port, api)
    with Session(engine) as s:
        dead = s.exec(select(OutboxMessage).where(OutboxMessage.status == "dead")).one()

    assert "--status" in _cli(database_url, "list", "--help").stdout
    listed = _cli(database_url, "list", "--status", "dead")
    assert listed.exit_code == 0, listed.output
    (line,) = listed.stdout.strip().splitlines()
    assert line.split()[:4] == [str(dead.id), "dead", "1", dead.topic]
    assert "550 5.1.1 No such mailbox" in line
    assert len(_cli(database_url, "list").stdout.strip().splitlines()) == 3

    retried = _cli(database_url, "retry", str(dead.id))
    assert retried.exit_code == 0, retried.output
    assert f"notification {dead.id} ({dead.topic}) is pending again" in retried.stdout
    refused = _cli(database_url, "retry", str(dead.id))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: only a dead notification can be retried")
    unknown = _cli(database_url, "retry", "424242")
    assert (unknown.exit_code, unknown.stderr.strip()) == (1, "error: no such notification")

    email = api.world.who(C, Role.PMO_TEAM).email
    moded = _cli(database_url, "mode", email, "digest")
    assert moded.exit_code == 0, moded.output
    assert moded.stdout.strip() == f"{email} receives notifications: digest"
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
    assert user.notification_mode == "digest"
    wrong = _cli(database_url, "mode", email, "weekly")
    assert wrong.exit_code == 1
    assert "unknown notification mode 'weekly'" in wrong.stderr
    nobody = _cli(database_url, "mode", "nobody@x.example", "digest")
    assert nobody.stderr.strip() == "error: no user with email 'nobody@x.example'"
    assert _cli(database_url, "list", "--status", "dead").stdout.strip() == ("no notifications")
