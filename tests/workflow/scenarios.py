"""The lifecycle's main paths as one table, and the README's event tables generated from it.

Each row says: given this preparation, this person (or the system) does this, so the version
(or reporting period) moves from this state to that, these tasks open and these emails queue.
`tests/workflow/test_scenarios.py` drives the real commands through every row on both
databases; `python -m tests.workflow.scenarios --markdown` prints the README's tables, which
join the rows (what actually happens) with the spec (who may, what must hold, what it means).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from states import (
    LIFECYCLE,
    REPORTING,
    SUBMIT_RESULTS,
    FiredBy,
    MachineSpec,
    Role,
    Side,
    TaskTemplate,
    Transition,
)

C, P = Side.CUSTOMER, Side.PROVIDER
PM, TL, FL = Role.PROGRAM_MANAGER, Role.TECHNICAL_LEAD, Role.FUNCTIONAL_LEAD
BO, ES, PMO = Role.BUSINESS_OWNER, Role.EXECUTIVE_SPONSOR, Role.PMO_LEAD

Opened = tuple[str, Side, Role]  # task kind, side, role
TIMES = "\N{MULTIPLICATION SIGN}"  # as in "`task.assigned` x2", but the real sign
# Templates no transition opens (the periods job opens this one), for naming task holders.
OPENED_ELSEWHERE: tuple[TaskTemplate, ...] = (SUBMIT_RESULTS,)


@dataclass(frozen=True)
class Row:
    """One command of a path and everything it is seen to do."""

    event: str
    by: tuple[Side, Role] | None  # None: the system (a scheduled job)
    source: str
    dest: str
    opens: tuple[Opened, ...] = ()
    emails: tuple[str, ...] = ()  # outbox topics, one per row queued
    given: str = ""  # a preparation named in test_scenarios.GIVEN, run before the row
    via: str = ""  # "kind:outcome": `by` completes their open task so; "" fires `event`
    version: int = 1  # whose state `source` and `dest` are
    then: str = ""  # an automatic event the same command fires next (dest is after it)
    note: str = ""  # an effect besides tasks and emails, for the README


@dataclass(frozen=True)
class Path:
    name: str
    machine: MachineSpec
    start: str  # a starting point named in test_scenarios.START
    rows: tuple[Row, ...]


REVIEWS: tuple[Opened, ...] = (("review", C, FL), ("review", P, TL))
REWORK: tuple[Opened, ...] = (("rework", C, PM),)

SUBMITTED_ONCE: tuple[Row, ...] = (
    Row("submit", (P, PM), "open", "submitted", (("review_results", C, FL),), ("task.assigned",)),
)
DISPUTED_TWICE: tuple[Row, ...] = (
    *SUBMITTED_ONCE,
    Row(
        "dispute",
        (C, FL),
        "submitted",
        "disputed",
        (("address_dispute", P, PM),),
        ("task.assigned",),
    ),
    Row(
        "resubmit",
        (P, PM),
        "disputed",
        "resubmitted",
        (("review_results", C, FL),),
        ("task.assigned",),
    ),
    Row(
        "dispute",
        (C, FL),
        "resubmitted",
        "escalated",
        (("dispute_decision", C, ES), ("dispute_decision", P, ES)),
        ("period.escalated", "task.assigned", "task.assigned"),
        then="escalate",
        note="both Executive Sponsors are mailed why (rounds or business days)",
    ),
)

PATHS: tuple[Path, ...] = (
    Path(
        "approved, then expired",
        LIFECYCLE,
        "new agreement",
        (
            Row(
                "submit_for_review",
                (C, PM),
                "draft",
                "joint_review",
                REVIEWS,
                ("review.requested", "task.assigned", "task.assigned"),
            ),
            Row(
                "complete_review",
                (P, TL),
                "joint_review",
                "gap_analysis",
                (
                    ("confirm_requirements", C, FL),
                    ("confirm_capabilities", P, TL),
                    ("lcce_review", C, PMO),
                    ("lcce_review", P, PMO),
                ),
                ("gap_analysis.opened", *["task.assigned"] * 4),
                given="customer review accepted",
                via="review:accepted",
                note="gaps computed from requirements, capabilities and measurements",
            ),
            Row(
                "submit_for_approval",
                (P, PM),
                "gap_analysis",
                "approval",
                (
                    ("approval", C, BO),
                    ("approval", P, BO),
                    ("approval", C, ES),
                    ("approval", P, ES),
                ),
                ("approval.requested", *["task.assigned"] * 4),
                given="gaps resolved and gap-analysis tasks done",
            ),
            Row(
                "activate",
                (P, BO),
                "approval",
                "active",
                (("follow_up", P, PM),),
                ("version.approved_with_conditions", "version.activated", "task.assigned"),
                given="every other approval given",
                via="approval:approved_with_conditions",
                note="a previous active version is superseded; conditions become follow-up tasks",
            ),
            Row("expire", None, "active", "expired", (), ("version.expired",)),
        ),
    ),
    Path(
        "changes requested, reworked, withdrawn",
        LIFECYCLE,
        "new agreement",
        (
            Row(
                "submit_for_review",
                (P, TL),
                "draft",
                "joint_review",
                REVIEWS,
                ("review.requested", "task.assigned", "task.assigned"),
            ),
            Row(
                "request_changes",
                (C, FL),
                "joint_review",
                "draft",
                REWORK,
                ("changes.requested", "task.assigned"),
                note="the rework task goes to the drafting side",
            ),
            Row(
                "submit_for_review",
                (C, PM),
                "draft",
                "joint_review",
                REVIEWS,
                ("review.requested", "task.assigned", "task.assigned"),
            ),
            Row(
                "complete_review",
                (P, TL),
                "joint_review",
                "gap_analysis",
                (
                    ("confirm_requirements", C, FL),
                    ("confirm_capabilities", P, TL),
                    ("lcce_review", C, PMO),
                    ("lcce_review", P, PMO),
                ),
                ("gap_analysis.opened", *["task.assigned"] * 4),
                given="customer review accepted",
                via="review:accepted",
            ),
            Row(
                "request_rework",
                (C, PM),
                "gap_analysis",
                "draft",
                REWORK,
                ("rework.requested", "task.assigned"),
            ),
            Row("withdraw", (C, PM), "draft", "withdrawn", (), ("version.withdrawn",)),
        ),
    ),
    Path(
        "rejected, then withdrawn in approval",
        LIFECYCLE,
        "in approval",
        (
            Row(
                "reject",
                (P, BO),
                "approval",
                "draft",
                REWORK,
                ("version.rejected", "task.assigned"),
                given="customer Business Owner approved",
                via="approval:rejected",
                note="the other approvals are cancelled",
            ),
            Row(
                "withdraw",
                (C, PM),
                "approval",
                "withdrawn",
                (),
                ("version.withdrawn",),
                given="back in approval",
            ),
        ),
    ),
    Path(
        "terminated",
        LIFECYCLE,
        "active",
        (Row("terminate", (P, BO), "active", "terminated", (), ("agreement.terminated",)),),
    ),
    Path(
        "a revision supersedes the active version",
        LIFECYCLE,
        "active",
        (
            Row(
                "supersede",
                (P, BO),
                "active",
                "superseded",
                (),
                ("version.approved", "version.activated", "version.superseded"),
                given="revision 2 in approval, every other approval given",
                via="approval:approved",
                version=1,
                note="the revision's last approval activates it",
            ),
        ),
    ),
    Path(
        "a period accepted at once",
        REPORTING,
        "period open",
        (
            Row(
                "submit",
                (P, PM),
                "open",
                "submitted",
                (("review_results", C, FL),),
                ("task.assigned",),
            ),
            Row(
                "accept",
                (C, FL),
                "submitted",
                "final",
                (("corrective_action", P, PM), ("corrective_action", P, PM)),
                ("period.final", "task.assigned", "task.assigned"),
                then="finalize",
                note="a corrective action per unexcused miss and side charged; chronic misses",
            ),
        ),
    ),
    Path(
        "a period disputed and resubmitted",
        REPORTING,
        "period open",
        (
            Row(
                "submit",
                (P, PM),
                "open",
                "submitted",
                (("review_results", C, FL),),
                ("task.assigned",),
                via="submit_results:done",
            ),
            Row(
                "dispute",
                (C, FL),
                "submitted",
                "disputed",
                (("address_dispute", P, PM),),
                ("task.assigned",),
            ),
            Row(
                "resubmit",
                (P, PM),
                "disputed",
                "resubmitted",
                (("review_results", C, FL),),
                ("task.assigned",),
            ),
            Row(
                "accept",
                (C, FL),
                "resubmitted",
                "final",
                (("corrective_action", P, PM), ("corrective_action", P, PM)),
                ("period.final", "task.assigned", "task.assigned"),
                via="review_results:accepted",
                then="finalize",
            ),
        ),
    ),
    Path(
        "a period accepted with exceptions",
        REPORTING,
        "period open",
        (
            *SUBMITTED_ONCE,
            Row(
                "accept_with_exceptions",
                (C, FL),
                "submitted",
                "final",
                (("corrective_action", P, PM), ("corrective_action", P, PM)),
                ("period.final", "task.assigned", "task.assigned"),
                then="finalize",
            ),
        ),
    ),
    Path(
        "a dispute escalated, the Sponsors uphold the results",
        REPORTING,
        "period open",
        (
            *DISPUTED_TWICE,
            Row(
                "uphold",
                (P, ES),
                "escalated",
                "final",
                (("corrective_action", P, PM), ("corrective_action", P, PM)),
                ("period.dispute_decided", "period.final", "task.assigned", "task.assigned"),
                given="customer Sponsor upheld",
                via="dispute_decision:upheld",
                then="finalize",
            ),
        ),
    ),
    Path(
        "a dispute escalated, the Sponsors sustain it",
        REPORTING,
        "period open",
        (
            *DISPUTED_TWICE,
            Row(
                "sustain",
                (P, ES),
                "escalated",
                "disputed",
                (("address_dispute", P, PM),),
                ("period.dispute_decided", "task.assigned"),
                given="customer Sponsor sustained",
                via="dispute_decision:sustained",
                note="the dispute counts start again; the Sponsors' comments go to the provider",
            ),
        ),
    ),
    Path(
        "a dispute escalated, the Sponsors differ",
        REPORTING,
        "period open",
        (
            *DISPUTED_TWICE,
            Row(
                "reconsider",
                (P, ES),
                "escalated",
                "escalated",
                (("dispute_decision", C, ES), ("dispute_decision", P, ES)),
                ("period.dispute_decided", "task.assigned", "task.assigned"),
                given="customer Sponsor sustained",
                via="dispute_decision:upheld",
                note="the new tasks show what each Sponsor decided and said",
            ),
        ),
    ),
)

# What each guard asks for, as the README says it (the spec holds the refusal text).
GUARD_SUMMARY: dict[str, str] = {
    "has_metrics": "≥1 metric",
    "has_period_of_performance": "period of performance",
    "has_required_stakeholders": "both Business Owners and Program Managers assigned",
    "has_comment": "comment",
    "all_reviews_accepted": "every review accepted",
    "all_gaps_resolved": "every gap resolved",
    "all_gap_analysis_tasks_done": "gap-analysis tasks done",
    "all_approvals_approved": "every approval given on the current content hash",
    "period_ended": "period of performance ended",
    "has_active_version": "an active version",
    "no_version_in_progress": "no other version in progress",
    "disputes_named": "names metrics of the report, each with a reason",
    "provider_data_complete": "data (or an accepted excusal) for every window the provider reports",
    "exceptions_named": "names metrics of the report, each with a reason",
    "escalation_due": "the agreement's dispute rounds (default 2) or business days (default 15)",
    "sponsors_uphold": "both Executive Sponsors `upheld`",
    "sponsors_sustain": "both Executive Sponsors `sustained`",
    "sponsors_split": "one Sponsor `upheld`, the other `sustained`",
}

# Who else fires a system event that rows reach only through `then`.
ALSO_FIRED_BY: dict[str, str] = {
    "escalate": "or the calendar job, once the business days have passed",
}


def rows_of(machine: MachineSpec) -> list[Row]:
    return [row for path in PATHS if path.machine is machine for row in path.rows]


def _who(machine: MachineSpec, t: Transition) -> str:
    if t.fired_by is FiredBy.ROLES:
        return " or ".join(r.label for r in t.roles) + ", either side"
    if t.fired_by is FiredBy.TASK_ASSIGNEE:
        holders = _holders(machine, t.task_kind or "")
        return f"the holder of the `{t.task_kind}` task ({holders})"
    firing = [
        f"the last `{k.name}` task is `{o.name}`"
        for k in machine.task_kinds
        for o in k.outcomes
        if o.fires == t.event
    ]
    chained = [r.event for r in rows_of(machine) if r.then == t.event]
    if chained:
        also = ALSO_FIRED_BY.get(t.event)
        return f"automatic, right after `{chained[0]}`" + (f"; {also}" if also else "")
    return "automatic: " + (" or ".join(firing[:1]) or t.description)


def _holders(machine: MachineSpec, kind: str) -> str:
    """Who holds `kind` tasks ("customer Functional Lead", "Business Owner, either side")."""
    templates = [tpl for tr in machine.transitions for tpl in tr.opens] + list(OPENED_ELSEWHERE)
    sides: dict[Role, set[str]] = {}
    for tpl in templates:
        if tpl.kind == kind:
            sides.setdefault(tpl.role, set()).add(tpl.side.value)
    if all(len(on) > 1 for on in sides.values()):
        return " or ".join(role.label for role in sides) + ", either side"
    return " or ".join(
        " or ".join(f"{side} {role.label}" for side in sorted(on)) for role, on in sides.items()
    )


def _tasks(machine: MachineSpec, t: Transition, opens: Iterable[Opened]) -> str:
    """Opened tasks by kind; those the spec opens only on a condition say when."""
    conditions = {
        (tpl.kind, tpl.side.value, tpl.role): machine.conditions[tpl.condition]
        for tpl in t.opens
        if tpl.condition
    }
    groups: dict[tuple[str, str], list[str]] = {}
    for kind, side, role in opens:
        when = conditions.get((kind, side.value, role), "")
        groups.setdefault((kind, when), []).append(f"{side.value} {role.label}")
    parts = [
        f"{kind}: {', '.join(dict.fromkeys(people))}"
        + (f" {TIMES}{len(people)}" if len(set(people)) < len(people) else "")
        + (f" (when {when})" if when else "")
        for (kind, when), people in groups.items()
    ]
    return "; ".join(parts) or "—"


def _emails(topics: Iterable[str]) -> str:
    counted: dict[str, int] = {}
    for topic in topics:
        counted[topic] = counted.get(topic, 0) + 1
    return (
        ", ".join(f"`{t}`" + (f" {TIMES}{n}" if n > 1 else "") for t, n in counted.items()) or "—"
    )


def _effects(machine: MachineSpec, t: Transition) -> tuple[str, str, str]:
    """Tasks opened, emails queued and other effects, as the first row of `t` saw them.

    A row whose command fires an automatic event next (`then`) counts for that event.
    """
    rows = rows_of(machine)
    also = ["open tasks cancelled"] if t.cancels_open_tasks else []
    plain = next((r for r in rows if r.event == t.event and not r.then), None)
    chained = next((r for r in rows if r.event == t.event and r.then), None)
    if chained is not None and plain is None:
        return "—", f"— (`{chained.then}` follows at once)", "; ".join(also) or "—"
    if chained is not None:
        also.append(f"`{chained.then}` follows when its guards hold")
    row = plain or next(r for r in rows if r.then == t.event)
    also += [row.note] if row.note else []
    return _tasks(machine, t, row.opens), _emails(row.emails), "; ".join(also) or "—"


def _line(machine: MachineSpec, t: Transition) -> str:
    cells = [
        f"`{t.event}`",
        f"{', '.join(t.sources)} → {t.dest}",
        _who(machine, t),
        ", ".join(GUARD_SUMMARY[g] for g in t.guards) or "—",
        *_effects(machine, t),
    ]
    return "| " + " | ".join(cells) + " |"


COLUMNS = ("event", "from → to", "who", "needs (a refusal names it)", "tasks opened")
HEADER = "\n".join(
    "| " + " | ".join(cells) + " |"
    for cells in ((*COLUMNS, "emails queued", "also"), ["---"] * (len(COLUMNS) + 2))
)


def markdown(machine: MachineSpec) -> str:
    """The README's event table of `machine`: one line per transition, in the spec's order."""
    return "\n".join([HEADER, *(_line(machine, t) for t in machine.transitions)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the README's tables")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(LIFECYCLE), end="\n\n")
        print(markdown(REPORTING))


if __name__ == "__main__":
    main()
