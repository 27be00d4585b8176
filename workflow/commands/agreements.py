"""Creating agreements, editing drafts, stakeholders and revisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, delete, select

from states import DEFAULT_REPORTING_DAY, LIFECYCLE, Role, Side
from workflow import audit
from workflow.access import Actor, Grant, require_role
from workflow.calendar import local_date
from workflow.canonical import content_hash
from workflow.content import Content, Metric, dump_metrics, dump_terms
from workflow.db import begin_write, is_postgres
from workflow.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAllowedNow,
    NotFound,
    StaleVersion,
)
from workflow.guards import VersionContext
from workflow.models import (
    Agreement,
    AgreementKeySequence,
    AgreementVersion,
    Organization,
    StakeholderAssignment,
    Task,
    User,
)
from workflow.permissions import (
    actor_grants,
    allowed_events,
    lock_agreement,
    version_by_number,
)
from workflow.snapshots import version_summary
from workflow.transaction import commit


@dataclass(frozen=True)
class StakeholderInput:
    side: Side
    role: Role
    user_id: int


def create_agreement(
    session: Session,
    *,
    actor: Actor,
    title: str,
    customer_org_id: int,
    provider_org_id: int,
    content: Content,
    stakeholders: Sequence[StakeholderInput],
    now: datetime,
    remedy_policy: str = "corrective_action",
    allow_editor_approval: bool = False,
    executive_approval_threshold_pct: Decimal = Decimal("10"),
    reporting_period: str = "month",
    reporting_day: int = DEFAULT_REPORTING_DAY,
) -> Agreement:
    """A new agreement with version 1 in draft; the actor's organisation must be a party."""
    begin_write(session)
    if customer_org_id == provider_org_id:
        raise InvalidInput(
            "customer and provider must be different organisations",
            [{"field": "provider_org_id", "message": "must differ from customer_org_id"}],
        )
    for field, org_id in (
        ("customer_org_id", customer_org_id),
        ("provider_org_id", provider_org_id),
    ):
        if session.get(Organization, org_id) is None:
            raise InvalidInput(
                f"no organisation {org_id}", [{"field": field, "message": "unknown"}]
            )
    if actor.organization_id not in (customer_org_id, provider_org_id):
        raise Forbidden("you can only create agreements your own organisation is party to")
    agreement = Agreement(
        key=_next_key(session, now.year),
        title=title,
        customer_org_id=customer_org_id,
        provider_org_id=provider_org_id,
        remedy_policy=remedy_policy,
        allow_editor_approval=allow_editor_approval,
        executive_approval_threshold_pct=executive_approval_threshold_pct,
        reporting_period=reporting_period,
        reporting_day=reporting_day,
        created_by_id=actor.user_id,
        created_at=now,
    )
    session.add(agreement)
    session.flush()
    assert agreement.id is not None
    _replace_stakeholders(session, agreement, stakeholders)
    side = agreement.side_of_org(actor.organization_id)
    assert side is not None
    terms, metrics = dump_terms(content.terms), dump_metrics(content.metrics)
    version = AgreementVersion(
        agreement_id=agreement.id,
        number=1,
        modification_number=0,
        state=LIFECYCLE.initial,
        terms=terms,
        metrics=metrics,
        content_hash=content_hash(terms, metrics),
        drafting_side=side.value,
        created_by_id=actor.user_id,
        last_edited_by_id=actor.user_id,
        created_at=now,
        state_changed_at=now,
    )
    session.add(version)
    session.flush()
    audit.append(
        session,
        action="agreement.created",
        now=now,
        agreement_id=agreement.id,
        version_id=version.id,
        actor_id=actor.user_id,
        data={
            "key": agreement.key,
            "title": title,
            "customer_org_id": customer_org_id,
            "provider_org_id": provider_org_id,
            "remedy_policy": remedy_policy,
            "reporting_period": reporting_period,
            "reporting_day": reporting_day,
            "stakeholders": [
                {"side": s.side.value, "role": s.role.value, "user_id": s.user_id}
                for s in stakeholders
            ],
            "after": version_summary(version),
        },
    )
    commit(session)
    return agreement


def _next_key(session: Session, year: int) -> str:
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    session.execute(
        dialect_insert(AgreementKeySequence)
        .values(year=year, last=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    seq = session.exec(
        select(AgreementKeySequence).where(AgreementKeySequence.year == year).with_for_update()
    ).one()
    seq.last += 1
    session.add(seq)
    return f"SLA-{year}-{seq.last:04d}"


def _replace_stakeholders(
    session: Session, agreement: Agreement, stakeholders: Sequence[StakeholderInput]
) -> None:
    seen: set[tuple[Side, Role]] = set()
    errors = []
    wanted = {s.user_id for s in stakeholders}
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(wanted)))}
    for i, s in enumerate(stakeholders):
        if (s.side, s.role) in seen:
            errors.append({"field": f"stakeholders.{i}", "message": "role assigned twice"})
            continue
        seen.add((s.side, s.role))
        user = users.get(s.user_id)
        if user is None or not user.is_active:
            errors.append({"field": f"stakeholders.{i}.user_id", "message": "unknown user"})
        elif user.organization_id != agreement.org_of(s.side):
            errors.append(
                {
                    "field": f"stakeholders.{i}.user_id",
                    "message": f"{user.email} does not belong to the {s.side.value}",
                }
            )
    if errors:
        raise InvalidInput("invalid stakeholders", errors)
    session.execute(
        delete(StakeholderAssignment).where(
            StakeholderAssignment.agreement_id == agreement.id  # type: ignore[arg-type]
        )
    )
    session.flush()
    session.add_all(
        StakeholderAssignment(
            agreement_id=agreement.id,  # type: ignore[arg-type]
            side=s.side.value,
            role=s.role.value,
            user_id=s.user_id,
        )
        for s in stakeholders
    )
    session.flush()


def set_stakeholders(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    stakeholders: Sequence[StakeholderInput],
    now: datetime,
) -> Agreement:
    """Replace the role assignments; open tasks follow their role to its new holder."""
    begin_write(session)
    agreement = lock_agreement(session, agreement_id, actor)
    grant = require_role(
        actor_grants(session, agreement, actor, local_date(now)),
        LIFECYCLE.action("set_stakeholders").roles,
        "changing stakeholders",
    )
    before = _assignment_list(session, agreement)
    _replace_stakeholders(session, agreement, stakeholders)
    holders = {(s.side.value, s.role.value): s.user_id for s in stakeholders}
    moved = []
    open_tasks = session.exec(
        select(Task).where(Task.agreement_id == agreement.id, Task.state == "open")
    ).all()
    for task in open_tasks:
        new = holders.get((task.side, task.role)) or holders.get(
            (task.side, Role.PROGRAM_MANAGER.value)
        )
        if new != task.assignee_id:
            moved.append({"task_id": task.id, "from": task.assignee_id, "to": new})
            task.assignee_id = new
            task.next_step_at = None  # the sweep plans a moved task afresh
            session.add(task)
    audit.append(
        session,
        action="agreement.stakeholders_set",
        now=now,
        agreement_id=agreement.id,
        actor_id=actor.user_id,
        on_behalf_of_id=grant.on_behalf_of_id,
        data={"before": before, "after": _assignment_list(session, agreement), "moved": moved},
    )
    commit(session)
    return agreement


def _assignment_list(session: Session, agreement: Agreement) -> list[dict[str, Any]]:
    rows = session.exec(
        select(StakeholderAssignment)
        .where(StakeholderAssignment.agreement_id == agreement.id)
        .order_by(col(StakeholderAssignment.side), col(StakeholderAssignment.role))
    ).all()
    return [{"side": r.side, "role": r.role, "user_id": r.user_id} for r in rows]


def edit_draft(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    number: int,
    expected_lock_version: int,
    now: datetime,
    terms: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
) -> AgreementVersion:
    """Change terms (merged key by key) and/or metrics (replaced) of a draft."""
    begin_write(session)
    agreement = lock_agreement(session, agreement_id, actor)
    version = version_by_number(session, agreement, number)
    merged_terms = {**version.terms, **(terms or {})}
    new_metrics = metrics if metrics is not None else version.metrics
    replace_draft_content(
        session,
        agreement,
        version,
        actor,
        expected_lock_version,
        merged_terms,
        new_metrics,
        now,
        action="version.edited",
    )
    commit(session)
    return version


def import_version(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    number: int,
    expected_lock_version: int,
    document: dict[str, Any],
    now: datetime,
) -> AgreementVersion:
    """Replace a draft's terms and metrics with those of an exported YAML document."""
    begin_write(session)
    agreement = lock_agreement(session, agreement_id, actor)
    version = version_by_number(session, agreement, number)
    unknown = sorted(set(document) - IMPORTABLE_KEYS)
    if unknown:
        raise InvalidInput(
            f"unknown top-level keys: {', '.join(unknown)}",
            [{"field": k, "message": "not allowed"} for k in unknown],
        )
    replace_draft_content(
        session,
        agreement,
        version,
        actor,
        expected_lock_version,
        document.get("terms") or {},
        document.get("metrics") or [],
        now,
        action="version.imported",
    )
    commit(session)
    return version


# What an export holds besides content; import reads content and ignores the rest.
IMPORTABLE_KEYS = {
    "title",
    "customer",
    "provider",
    "remedy_policy",
    "terms",
    "metrics",
    "stakeholders",
    "agreement",
    "version",
    "modification_number",
    "state",
    "content_hash",
}


def check_draft_edit(
    session: Session,
    agreement: Agreement,
    version: AgreementVersion,
    actor: Actor,
    expected_lock_version: int,
    now: datetime,
) -> Grant:
    """The grant under which the actor may edit this draft now; refuses otherwise (role, state,
    stale lock_version). Public so that other draft edits refuse exactly like edit_draft."""
    day = local_date(now)
    grants_ = actor_grants(session, agreement, actor, day)
    grant = require_role(grants_, LIFECYCLE.action("edit_draft").roles, "editing a draft")
    if version.state != "draft":
        ctx = VersionContext(session, agreement, version, now=now)
        raise NotAllowedNow(
            f"version {version.number} is {version.state}; only a draft can be edited",
            current_state=version.state,
            allowed_events=allowed_events(ctx, actor, grants_, day),
        )
    if expected_lock_version != version.lock_version:
        raise StaleVersion(
            f"version {version.number} changed since you read it (lock_version is now "
            f"{version.lock_version}); reload it and apply your change again",
            current_lock_version=version.lock_version,
        )
    return grant


def replace_draft_content(
    session: Session,
    agreement: Agreement,
    version: AgreementVersion,
    actor: Actor,
    expected_lock_version: int,
    terms: dict[str, Any],
    metrics: list[dict[str, Any]],
    now: datetime,
    *,
    action: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Validate and store a draft's new content, audited as `action` (plus `extra` data);
    the caller commits. Every draft edit goes through here."""
    grant = check_draft_edit(session, agreement, version, actor, expected_lock_version, now)
    content = parse_content(terms, metrics)
    _require_target_change_reasons(session, agreement, version, content.metrics)
    new_terms, new_metrics = dump_terms(content.terms), dump_metrics(content.metrics)
    before = version_summary(version)
    changes = describe_changes(version.terms, version.metrics, new_terms, new_metrics)
    version.terms, version.metrics = new_terms, new_metrics
    version.content_hash = content_hash(new_terms, new_metrics)
    version.last_edited_by_id = actor.user_id
    session.add(version)
    session.flush()
    audit.append(
        session,
        action=action,
        now=now,
        agreement_id=agreement.id,
        version_id=version.id,
        actor_id=actor.user_id,
        on_behalf_of_id=grant.on_behalf_of_id,
        data={
            **(extra or {}),
            "changes": changes,
            "before": before,
            "after": version_summary(version),
        },
    )


def parse_content(terms: dict[str, Any], metrics: list[dict[str, Any]]) -> Content:
    """Validate terms and metrics, naming every offending field."""
    try:
        return Content.model_validate({"terms": terms, "metrics": metrics})
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        raise InvalidInput("invalid terms or metrics", errors) from None


def _require_target_change_reasons(
    session: Session, agreement: Agreement, version: AgreementVersion, metrics: list[Metric]
) -> None:
    active = session.exec(
        select(AgreementVersion).where(
            AgreementVersion.agreement_id == agreement.id, AgreementVersion.state == "active"
        )
    ).first()
    if active is None or active.id == version.id:
        return
    previous = {m["key"]: m for m in active.metrics}
    errors = [
        {
            "field": f"metrics.{i}.target_change",
            "message": f"target of {m.key} changed from {previous[m.key]['target']:g} to "
            f"{m.target:g}: say who drove it (customer or provider) and why",
        }
        for i, m in enumerate(metrics)
        if m.key in previous and previous[m.key]["target"] != m.target and m.target_change is None
    ]
    if errors:
        raise InvalidInput(errors[0]["message"], errors)


def describe_changes(
    old_terms: dict[str, Any],
    old_metrics: list[dict[str, Any]],
    new_terms: dict[str, Any],
    new_metrics: list[dict[str, Any]],
) -> dict[str, Any]:
    """What changed between two contents, field by field (used by edits and diffs)."""
    terms = {
        k: {"from": old_terms.get(k), "to": new_terms.get(k)}
        for k in sorted(set(old_terms) | set(new_terms))
        if old_terms.get(k) != new_terms.get(k)
    }
    old_m = {m["key"]: m for m in old_metrics}
    new_m = {m["key"]: m for m in new_metrics}
    changed = {}
    for key in sorted(set(old_m) & set(new_m)):
        fields = {
            f: {"from": old_m[key].get(f), "to": new_m[key].get(f)}
            for f in sorted(set(old_m[key]) | set(new_m[key]))
            if old_m[key].get(f) != new_m[key].get(f)
        }
        if fields:
            changed[key] = fields
    return {
        "terms": terms,
        "metrics_added": sorted(set(new_m) - set(old_m)),
        "metrics_removed": sorted(set(old_m) - set(new_m)),
        "metrics_changed": changed,
    }


def start_revision(
    session: Session, *, actor: Actor, agreement_id: int, now: datetime
) -> AgreementVersion:
    """A new draft cloned from the active version; the active one stays in force."""
    begin_write(session)
    agreement = lock_agreement(session, agreement_id, actor)
    grant = require_role(
        actor_grants(session, agreement, actor, local_date(now)),
        LIFECYCLE.action("start_revision").roles,
        "starting a revision",
    )
    active = session.exec(
        select(AgreementVersion).where(
            AgreementVersion.agreement_id == agreement.id, AgreementVersion.state == "active"
        )
    ).first()
    if active is None:
        raise Conflict(LIFECYCLE.guards["has_active_version"])
    ctx = VersionContext(session, agreement, active, now=now)
    if not ctx.no_version_in_progress():
        raise Conflict(LIFECYCLE.guards["no_version_in_progress"])
    last = session.exec(
        select(AgreementVersion.number)
        .where(AgreementVersion.agreement_id == agreement.id)
        .order_by(col(AgreementVersion.number).desc())
    ).first()
    metrics = [{k: v for k, v in m.items() if k != "target_change"} for m in active.metrics]
    version = AgreementVersion(
        agreement_id=agreement.id,  # type: ignore[arg-type]
        number=(last or 0) + 1,
        modification_number=active.modification_number + 1,
        state=LIFECYCLE.initial,
        terms=dict(active.terms),
        metrics=metrics,
        content_hash=content_hash(active.terms, metrics),
        drafting_side=grant.side.value,
        created_by_id=actor.user_id,
        last_edited_by_id=None,
        created_at=now,
        state_changed_at=now,
    )
    session.add(version)
    session.flush()
    audit.append(
        session,
        action="version.revision_started",
        now=now,
        agreement_id=agreement.id,
        version_id=version.id,
        actor_id=actor.user_id,
        on_behalf_of_id=grant.on_behalf_of_id,
        data={"from_version": active.number, "after": version_summary(version)},
    )
    commit(session)
    return version


def agreement_or_404(session: Session, agreement_id: int) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound("no such agreement")
    return agreement
