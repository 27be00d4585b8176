"""The replica topology: two servers (one with two workers) and two schedulers on one database.

Commands go through both servers; mid-run one server and one scheduler are SIGKILLed. Then
every acknowledged command is in the database, every reminder was queued once, every email
queued was delivered (the surviving scheduler takes over the dead one's leases), and the
audit chain verifies. SMTP has no transactions, so an email the killed scheduler had handed to
the server but not yet recorded is sent again, with the same Message-ID: receivers drop it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx2
from sqlmodel import Session, col, func, select

from states import Role
from tests.api.conftest import Api
from tests.api.flows import sla_payload
from tests.helpers import T0, C, make_world
from tests.notifications.smtp import HOST, Mailbox, free_port, smtp_server
from tests.processes import Process, Server
from workflow import audit, commands
from workflow.models import Agreement, AgreementVersion, NotificationDelivery, OutboxMessage

PM = Role.PROGRAM_MANAGER
BACKLOG = 4  # drafts submitted at T0: a month overdue, so reminders and escalations are due
NEW = 24  # agreements created through the servers, one of them killed a quarter in


def _post(bases: list[str], path: str, token: str, key: str, body: Any) -> Any:
    """POST with an Idempotency-Key, moving to the next server while one is down."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    for attempt in range(40):  # bounded: 40 tries over both servers
        base = bases[attempt % len(bases)]
        try:
            with httpx2.Client(base_url=base, timeout=10) as client:
                response = client.post(path, json=body, headers=headers)
        except httpx2.TransportError:
            time.sleep(0.1)
            continue
        assert response.status_code in (200, 201), response.text
        return response.json()
    raise AssertionError(f"{key} was never acknowledged")


def test_two_servers_and_two_schedulers_survive_a_kill_of_one_of_each(
    session: Session, database_url: str, tmp_path: Path
) -> None:
    world = make_world(session)
    backlog = [world.create() for _ in range(BACKLOG)]
    for agreement in backlog:
        world.fire(agreement, "submit_for_review", world.who(C, PM))
    _, token = commands.create_token(
        session, actor=None, user_id=world.parties.actors[(C, PM)].user_id, now=T0
    )
    payload = sla_payload(cast(Api, SimpleNamespace(world=world)))
    mailbox = Mailbox(delay=0.02)
    port = free_port()
    mail = {
        "ACCORD_MAIL_BACKEND": "smtp",
        "ACCORD_SMTP_HOST": HOST,
        "ACCORD_SMTP_PORT": str(port),
        "ACCORD_SMTP_TIMEOUT_SECONDS": "2",
        "ACCORD_SMTP_LOCAL_HOSTNAME": "client.accord.test",
        "ACCORD_DISPATCH_LEASE_SECONDS": "8",  # the dead scheduler's claims come back soon
    }
    servers = [
        Server(database_url, free_port(), tmp_path, env=mail),
        Server(database_url, free_port(), tmp_path, workers=2, env=mail),
    ]
    schedulers = [Process(database_url, ["scheduler"], tmp_path, mail) for _ in range(2)]
    acknowledged: list[int] = []
    with smtp_server(mailbox, port=port):
        try:
            for process in [*servers, *schedulers]:
                process.start()
            bases = [s.base for s in servers]

            def drive() -> None:
                for n in range(NEW):
                    body = {**payload, "title": f"Replica {n}"}
                    answer = _post(
                        bases[n % 2 :] + bases[: n % 2], "/api/v1/slas", token, f"r{n}", body
                    )
                    acknowledged.append(answer["id"])

            driver = threading.Thread(target=drive)
            driver.start()
            deadline = time.monotonic() + 120
            while len(acknowledged) < NEW // 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert driver.is_alive(), "the commands were all done before the server was killed"
            servers[0].kill()
            assert mailbox.in_data.wait(60), "no scheduler started sending"
            schedulers[0].kill()
            driver.join(timeout=180)
            assert not driver.is_alive()
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and _pending(session):
                time.sleep(0.5)
        finally:
            for process in [*servers, *schedulers]:
                process.stop()

    assert servers[0].kills == schedulers[0].kills == 1
    assert _pending(session) == 0, "the surviving scheduler left emails unsent"
    session.rollback()
    created = session.exec(
        select(Agreement.id).where(col(Agreement.title).startswith("Replica "))
    ).all()
    assert sorted(i for i in created if i is not None) == sorted(acknowledged)
    assert len(set(acknowledged)) == NEW
    states = session.exec(
        select(AgreementVersion.state).where(
            col(AgreementVersion.agreement_id).in_([a.id for a in backlog])
        )
    ).all()
    assert states == ["joint_review"] * BACKLOG
    reminders = session.exec(
        select(OutboxMessage.dedupe_key).where(
            col(OutboxMessage.dedupe_key).startswith("reminder:")
        )
    ).all()
    assert len(reminders) == 2 * BACKLOG  # the newest reminder of each review task, once
    delivered = session.exec(select(func.count()).where(NotificationDelivery.channel == "to")).one()
    ids = mailbox.message_ids()
    assert len(set(ids)) == delivered  # every recorded delivery arrived
    assert len(ids) - len(set(ids)) <= schedulers[0].kills  # at most the email in flight
    verification = audit.verify(session)
    assert verification.ok, verification.failures


def _pending(session: Session) -> int:
    session.rollback()
    return int(session.exec(select(func.count()).where(OutboxMessage.status == "pending")).one())
