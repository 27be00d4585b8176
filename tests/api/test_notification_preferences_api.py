"""Notification preferences over HTTP: `GET/PUT /api/v1/me/notification-preferences`, and the
signed links of the emails (manage page and RFC 8058 one-click unsubscribe) without sign-in."""

from __future__ import annotations

import re

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from notifications import links
from states import Role
from tests.api.conftest import Api
from tests.helpers import C, P
from workflow.models import AuditEvent, NotificationPreference

PATH = "/api/v1/me/notification-preferences"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def _groups(body: dict[str, object]) -> dict[str, dict[str, object]]:
    return {g["group"]: g for g in body["groups"]}  # type: ignore[attr-defined]


def _token(engine: Engine, user_id: int, group: str) -> str:
    return links.make_token(links.link_key(engine), user_id, group)


def _choice(engine: Engine, user_id: int, group: str) -> str | None:
    with Session(engine) as session:
        return session.exec(
            select(NotificationPreference.mode).where(
                NotificationPreference.user_id == user_id,
                NotificationPreference.topic_group == group,
            )
        ).first()


def _events(engine: Engine) -> int:
    with Session(engine) as session:
        return len(
            session.exec(
                select(AuditEvent.id).where(
                    AuditEvent.action == "user.notification_preferences_changed"
                )
            ).all()
        )


def test_each_person_sees_the_defaults_of_their_role(api: Api) -> None:
    # Defaults follow the roles held on agreements: before any, broadcasts wait for the digest.
    before = _groups(api.client.get(PATH, headers=api.auth(C, Role.PROGRAM_MANAGER)).json())
    assert before["decisions"]["default"] == "digest"
    api.world.create()
    pm = api.client.get(PATH, headers=api.auth(C, Role.PROGRAM_MANAGER))
    assert pm.status_code == 200
    groups = _groups(pm.json())
    assert list(groups) == ["tasks", "decisions", "reports", "governance"]
    assert {g: v["default"] for g, v in groups.items()} == dict.fromkeys(groups, "immediate")
    assert {g: v["choice"] for g, v in groups.items()} == dict.fromkeys(groups, "default")
    assert groups["tasks"]["can_switch_off"] is False
    assert groups["decisions"]["label"] == "Decisions on my agreements"
    sme = _groups(api.client.get(PATH, headers=api.auth(P, Role.TECHNICAL_SME)).json())
    assert {g: v["default"] for g, v in sme.items()} == {
        "tasks": "immediate",
        "decisions": "digest",
        "reports": "digest",
        "governance": "digest",
    }
    assert api.client.get(PATH).status_code == 401


def test_a_person_changes_some_groups_and_task_emails_cannot_be_switched_off(
    api: Api, engine: Engine
) -> None:
    api.world.create()
    me = api.auth(C, Role.FUNCTIONAL_SME)
    changed = api.client.put(PATH, json={"decisions": "off", "reports": "immediate"}, headers=me)
    assert changed.status_code == 200
    groups = _groups(changed.json())
    assert (groups["decisions"]["choice"], groups["decisions"]["effective"]) == ("off", "off")
    assert groups["reports"]["effective"] == "immediate"
    assert groups["governance"]["choice"] == "default"

    refused = api.client.put(PATH, json={"tasks": "off", "reports": "digest"}, headers=me)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert "tasks" in refused.text
    assert "while the task is yours" in refused.text
    again = _groups(api.client.get(PATH, headers=me).json())
    assert again["reports"]["choice"] == "immediate"  # nothing half-written
    assert api.client.put(PATH, json={"decisions": "weekly"}, headers=me).status_code == 422
    assert api.client.put(PATH, json={"holidays": "off"}, headers=me).status_code == 422
    reset = api.client.put(PATH, json={"decisions": "default"}, headers=me)
    assert _groups(reset.json())["decisions"]["effective"] == "digest"
    assert _events(engine) == 2


def test_the_one_click_unsubscribe_switches_the_group_off_once_without_sign_in(
    api: Api, engine: Engine
) -> None:
    sme = api.world.who(P, Role.FUNCTIONAL_SME)
    url = f"/notifications/unsubscribe/{_token(engine, sme.user_id, 'decisions')}"
    form = {"List-Unsubscribe": "One-Click"}
    first = api.client.post(url, data=form)
    assert first.status_code == 200
    assert "will no longer get emails about decisions on my agreements" in first.text
    assert _choice(engine, sme.user_id, "decisions") == "off"
    assert api.client.post(url, data=form).status_code == 200  # idempotent
    assert _events(engine) == 1

    # A GET (a link checker) changes nothing: it shows the choices.
    seen = api.client.get(url.replace("decisions", "reports"), follow_redirects=False)
    assert seen.status_code == 303
    assert _choice(engine, sme.user_id, "reports") is None

    tasks = f"/notifications/unsubscribe/{_token(engine, sme.user_id, 'tasks')}"
    assert api.client.post(tasks, data=form).status_code == 409
    assert _choice(engine, sme.user_id, "tasks") is None
    head, mac = url.rsplit(".", 1)
    forged = f"{head}.{'B' if mac[0] == 'A' else 'A'}{mac[1:]}"
    assert api.client.post(forged, data=form).status_code == 404
    other = url.replace(f"/{sme.user_id}.", f"/{sme.user_id + 1}.")
    assert api.client.post(other, data=form).status_code == 404


def test_the_manage_link_changes_its_one_group_without_sign_in(api: Api, engine: Engine) -> None:
    lead = api.world.who(C, Role.TECHNICAL_LEAD)
    url = f"/notifications/manage/{_token(engine, lead.user_id, 'reports')}"
    shown = api.client.get(url)
    assert shown.status_code == 200
    assert "<h1>Reports</h1>" in shown.text
    assert lead.email in shown.text
    assert 'value="off"' in shown.text
    csrf = CSRF_FIELD.search(shown.text)
    assert csrf is not None
    assert api.client.post(url, data={"mode": "digest"}).status_code == 403  # no CSRF token
    saved = api.client.post(url, data={"mode": "digest", "csrf_token": csrf[1]})
    assert saved.status_code == 200
    assert "Reports: your choice is saved." in saved.text
    assert _choice(engine, lead.user_id, "reports") == "digest"

    tasks = api.client.get(f"/notifications/manage/{_token(engine, lead.user_id, 'tasks')}")
    assert 'value="off"' not in tasks.text
    assert "cannot be switched off while the task is yours" in tasks.text
    refused = api.client.post(
        f"/notifications/manage/{_token(engine, lead.user_id, 'tasks')}",
        data={"mode": "off", "csrf_token": csrf[1]},
    )
    assert refused.status_code == 422
    assert _choice(engine, lead.user_id, "tasks") is None
    assert api.client.get("/notifications/manage/1.reports.nonsense").status_code == 404
