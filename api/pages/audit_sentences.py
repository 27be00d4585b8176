"""Audit events as sentences people read: "Aisha Bello approved version 3 on behalf of Bo Chen".

Pure: the sentence follows from the action, its data and the names given, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SYSTEM = "Accord"

# version.<event> of the lifecycle: what the subject did to the version.
_VERSION_VERBS = {
    "submit_for_review": "submitted version {n} for joint review",
    "request_changes": "requested changes to version {n}",
    "complete_review": "completed the joint review of version {n}",
    "request_rework": "sent version {n} back for rework",
    "submit_for_approval": "submitted version {n} for approval",
    "reject": "returned version {n} to draft after a rejection",
    "activate": "activated version {n}",
    "supersede": "superseded version {n}",
    "withdraw": "withdrew version {n}",
    "expire": "expired version {n}",
    "terminate": "terminated version {n}",
    "edited": "edited version {n}",
    "imported": "imported version {n}",
    "revision_started": "started version {n} as a revision",
    "extended": "brought version {n} into force with the extended period of performance",
}

# period.<event> of the reporting cycle.
_PERIOD_VERBS = {
    "opened": "opened period {p}",
    "submit": "submitted the results of period {p}",
    "dispute": "disputed the results of period {p}",
    "resubmit": "resubmitted the results of period {p}",
    "accept": "accepted the results of period {p}",
    "finalize": "finalised period {p}",
    "amended": "amended period {p}",
    "accept_with_exceptions": "accepted the results of period {p} with exceptions",
    "escalate": "escalated the dispute of period {p} to both Executive Sponsors",
    "uphold": "upheld the results of period {p} (both Executive Sponsors)",
    "sustain": "sustained the dispute of period {p} (both Executive Sponsors)",
    "reconsider": "asked both Executive Sponsors to decide period {p} again (they differed)",
}

_APPROVALS = {
    "approved": "approved version {n}",
    "approved_with_conditions": "approved version {n} with conditions",
    "rejected": "rejected version {n}",
}

_OTHER = {
    "agreement.created": "created the agreement",
    "agreement.stakeholders_set": "set the agreement's stakeholders",
    "agreement.renewal_upcoming": "announced the agreement's upcoming renewal",
    "governance.annual_review_opened": "opened the annual review",
    "governance.service_review_opened": "opened the service review",
    "governance.renewal_decision_opened": "opened the renewal decision",
    "extension.request": "asked to extend the period of performance",
    "extension.approve": "extended the period of performance: both Business Owners approved",
    "extension.reject": "ended the extension request: a Business Owner rejected it",
    "service_review.minutes_recorded": "recorded the service review's minutes",
    "measurements.imported": "imported measurements",
    "measurements.import_aborted": "aborted an import of measurements",
    "excusal.added": "added an excusal",
    "measurement.corrected": "corrected an observation",
    "corrective_action.submit_plan": "submitted a corrective action plan",
    "corrective_action.accept_plan": "accepted a corrective action plan",
    "corrective_action.request_rework": "sent a corrective action plan back for rework",
    "corrective_action.report_completion": "reported a corrective action complete",
    "corrective_action.confirm_closure": "confirmed a corrective action and closed it",
    "corrective_action.cancel": "cancelled a corrective action (its miss was excused)",
    "corrective_action.reopen": "reopened a corrective action",
    "proposal.made": "made a proposal to the other side",
    "proposal.accept": "accepted a proposal",
    "proposal.reject": "rejected a proposal",
    "proposal.withdraw": "withdrew a proposal",
    "proposal.lapse": "let a proposal lapse (what it would change is gone)",
    "excusal.withdrawn": "withdrew an excusal",
    "catalog.imported": "imported the measure catalog",
    "chronic_miss.detected": "found a chronic miss",
    "chronic_miss.on_agenda": "put a chronic miss on the service review's agenda",
    "notification.retried": "sent a failed notification again",
    "user.notification_mode_changed": "changed how they receive notifications",
    "user.notification_preferences_changed": "changed which notifications they receive",
}


# Administration acts on the system chain: {who} is the person acted on (by name, else email,
# else id), {role_before} and {role_after} a role change.
_ROLE_WORDS = {
    "member": "a member",
    "admin": "an administrator",
    "auditor": "an auditor of their organisation",
    "global_auditor": "a global auditor",
}
_ADMIN = {
    "user.created": "created the account of {who}",
    "user.invited": "invited {who} by email",
    "user.invitation_accepted": "accepted the invitation and chose a password",
    "user.password_reset_requested": "mailed {who} a password reset link on request",
    "user.password_reset_sent": "mailed {who} a password reset link",
    "user.password_reset": "reset their password with an emailed link",
    "user.password_changed": "changed their password",
    "user.password_set": "set the password of {who}",
    "user.role_changed": "made {who} {role_after} (was {role_before})",
    "user.disabled": "disabled the account of {who}",
    "user.enabled": "enabled the account of {who}",
    "user.signed_in": "signed in",
    "user.signed_out": "signed out",
    "token.created": "created API token {prefix}… for {owner}",
    "token.revoked": "revoked API token {prefix}…",
    "organization.created": "created organisation {org}",
    "delegation.created": "delegated their tasks from {starts_on} to {ends_on}",
    "audit.checkpoint": "recorded a checkpoint of the audit chains",
}


def _admin_phrase(action: str, data: Mapping[str, Any]) -> str | None:
    template = _ADMIN.get(action)
    if template is None:
        return None
    who = _text(data.get("name") or data.get("email")) or f"user {_text(data.get('user_id'))}"
    return template.format(
        who=who,
        role_before=_ROLE_WORDS.get(_text(data.get("before")), _text(data.get("before"))),
        role_after=_ROLE_WORDS.get(_text(data.get("after")), _text(data.get("after"))),
        prefix=_text(data.get("prefix")),
        owner=_text(data.get("user_name")) or f"user {_text(data.get('user_id'))}",
        org=_text(data.get("name")),
        starts_on=_text(data.get("starts_on")),
        ends_on=_text(data.get("ends_on")),
    )


def _words(name: str) -> str:
    return name.replace(".", " ").replace("_", " ")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# What a task of each kind is, in a sentence: "accepted the review of version 2".
_TASK_NOUNS = {
    "review": "the review",
    "rework": "the rework",
    "confirm_requirements": "the confirmation of the customer's requirements",
    "confirm_capabilities": "the confirmation of the provider's capabilities",
    "lcce_review": "the LCCE and financial terms review",
    "follow_up": "the condition of approval",
    "submit_results": "the submission of the period's results",
    "review_results": "the review of the period's results",
    "address_dispute": "the answer to the dispute",
    "dispute_decision": "the Sponsors' decision on the dispute",
    "proposal_review": "the review of a proposal",
    "extension_approval": "the approval of the extension",
}
_OUTCOME_VERBS = {
    "accepted": "accepted",
    "changes_requested": "requested changes in",
    "rejected": "rejected",
    "disputed": "disputed",
    "upheld": "upheld the results in",
    "sustained": "sustained the dispute in",
    "approved": "approved",
}


def _completed(data: Mapping[str, Any], version: str) -> str:
    """A completed task: the approval of a version, else what kind of task it was, for which
    version, and how it ended ("accepted the review of version 2"); old events without the
    task's kind keep its number."""
    outcome = _text(data.get("outcome"))
    if outcome in _APPROVALS and version != "?":
        return _APPROVALS[outcome].format(n=version)
    after = data.get("after")
    kind = _text(after.get("kind")) if isinstance(after, Mapping) else ""
    if not kind:
        task = _text(data.get("task_id")) or "?"
        return f"completed task {task}: {_words(outcome) or 'done'}"
    noun = _TASK_NOUNS.get(kind, f"the {_words(kind)} task")
    of = f" of version {version}" if version != "?" else ""
    verb = _OUTCOME_VERBS.get(outcome)
    if verb is None:
        ending = "" if outcome in ("", "done") else f": {_words(outcome)}"
        return f"completed {noun}{of}{ending}"
    return f"{verb} {noun}{of}"


def _phrase(
    action: str, data: Mapping[str, Any], version: str, metrics: Mapping[str, str] | None = None
) -> str:
    """What the subject did, without the subject; `metrics` names metric keys."""
    group, _, event = action.partition(".")
    metrics = metrics or {}
    if action == "task.completed":
        return _completed(data, version)
    if group == "version" and event in _VERSION_VERBS:
        return _VERSION_VERBS[event].format(n=version)
    if action == "version.metric_added_from_catalog":
        metric = _text(data.get("metric") or data.get("metric_key"))
        metric = metrics.get(metric, metric)
        added = f"added metric {metric}" if metric else "added a metric"
        return f"{added} from the catalog to version {version}"
    if group == "period" and event in _PERIOD_VERBS:
        return _PERIOD_VERBS[event].format(p=_text(data.get("period")) or "?")
    if action == "gap.added":
        severity = _text(data.get("severity"))
        metric = _text(data.get("metric"))
        metric = metrics.get(metric, metric)
        gap = f"a {severity} gap" if severity else "a gap"
        return f"raised {gap} on {metric}" if metric else f"raised {gap}"
    if action == "gap.resolved":
        gap = _text(data.get("gap_id"))
        resolution = _text(data.get("resolution"))
        metric = _text(data.get("metric"))
        done = f"resolved gap {gap}" if gap else "resolved a gap"
        if metric:
            done = f"resolved the gap in {metrics.get(metric, metric)}"
        return f"{done}: {_words(resolution)}" if resolution else done
    if action == "agreement.created" and data.get("key"):
        return f"created agreement {data['key']}"
    if action in _OTHER:
        return _OTHER[action]
    admin = _admin_phrase(action, data)
    if admin is not None:
        return admin
    return f"recorded {_words(action)}"


def sentence(
    action: str,
    data: Mapping[str, Any],
    *,
    actor: str | None,
    on_behalf_of: str | None = None,
    version_number: int | None = None,
    metrics: Mapping[str, str] | None = None,
) -> str:
    """The event as one sentence; `actor` None means Accord itself (the scheduler, rules)."""
    version = str(version_number) if version_number is not None else "?"
    subject = actor or SYSTEM
    text = f"{subject} {_phrase(action, data, version, metrics)}"
    if on_behalf_of:
        text += f" on behalf of {on_behalf_of}"
    return text


# The audit filter's names of actions whose sentence needs the event's data to read well.
_ACTION_NAMES = {
    "task.completed": "Completed a task (reviews, approvals, confirmations)",
    "user.role_changed": "Changed someone's role",
    "token.created": "Created an API token",
    "token.revoked": "Revoked an API token",
    "organization.created": "Created an organisation",
    "delegation.created": "Delegated their tasks",
    "agreement.created": "Created an agreement",
}
_ANYONE = {"name": "someone", "period": "\0"}


def action_name(action: str) -> str:
    """What an action is, for the audit page's filter: 'Submitted a version for approval'."""
    if action in _ACTION_NAMES:
        return _ACTION_NAMES[action]
    phrase = _phrase(action, _ANYONE, "\0")
    phrase = phrase.replace("version \0", "a version").replace("period \0", "a period")
    phrase = phrase.replace("\0", "").strip()
    return phrase[:1].upper() + phrase[1:]


def action_choices(actions: set[str]) -> list[tuple[str, str]]:
    """(code, words) for each action, in the order of the words; the code stays the value the
    filter sends, so links and the API keep working."""
    return sorted(((a, action_name(a)) for a in actions), key=lambda pair: pair[1].casefold())
