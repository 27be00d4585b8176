"""Why a page's action was refused, as one plain sentence built from the engine's own reasons.

The API's problem+json keeps its fields (`detail`, `current_state`, `allowed_events`,
`reasons`) for clients; pages say the same refusal as people say it: "Version 2 cannot be
submitted for approval yet: every gap must be resolved before approval." instead of "Not done:
cannot submit_for_approval now: …". Every page that shows a refused command asks here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from notifications.formats import words
from workflow.errors import DomainError, NotAllowedNow, StaleVersion

# What the subject cannot do, for each event of every machine: "Version 2 cannot …".
_CANNOT = {
    # the lifecycle of a version
    "submit_for_review": "be submitted for review",
    "request_changes": "be sent back with changes requested",
    "complete_review": "complete its review",
    "request_rework": "be sent back for rework",
    "submit_for_approval": "be submitted for approval",
    "approve": "be approved",
    "reject": "be rejected",
    "activate": "come into force",
    "supersede": "be superseded",
    "withdraw": "be withdrawn",
    "expire": "expire",
    "terminate": "be terminated",
    # a reporting period
    "submit": "be submitted",
    "dispute": "be disputed",
    "resubmit": "be resubmitted",
    "accept": "be accepted",
    "accept_with_exceptions": "be accepted with exceptions",
    "finalize": "be finalised",
    "escalate": "be escalated",
    "uphold": "have its results upheld",
    "sustain": "have its dispute sustained",
    "reconsider": "go back to the Executive Sponsors",
    # a corrective action, a proposal, an extension
    "submit_plan": "have its plan submitted",
    "accept_plan": "have its plan accepted",
    "report_completion": "be reported complete",
    "confirm_closure": "be closed",
    "reopen": "be reopened",
    "cancel": "be cancelled",
    "request": "be requested",
    "lapse": "lapse",
}

# How a state reads after "it is": "it is in gap analysis", "it is a draft".
_STATE_WORDS = {
    "draft": "a draft",
    "joint_review": "in joint review",
    "gap_analysis": "in gap analysis",
    "approval": "in approval",
    "open": "open",
    "in_progress": "in progress",
    "plan_requested": "waiting for its plan",
}

# More reasons than this read better as a list under a short sentence.
_IN_ONE_SENTENCE = 3


@dataclass(frozen=True)
class Refusal:
    """What a page shows: one sentence, and the reasons it lists below it when there are many."""

    sentence: str
    reasons: list[str] = field(default_factory=list)


def cannot(event: str) -> str:
    """'be submitted for approval': what the subject of a refused `event` cannot do."""
    return _CANNOT.get(event, f"{words(event)} (as asked)")


def state_words(state: str) -> str:
    return _STATE_WORDS.get(state, words(state))


def as_sentence(text: str) -> str:
    """A message as a sentence: capital first letter, one full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def refusal(exc: DomainError, subject: str, event: str | None = None) -> Refusal:
    """Why `event` on `subject` ("Version 2", "Period 2026-10", "The corrective action") was
    refused: the guards' reasons when they failed, the state when it does not allow the event,
    else the refusal's own message as a sentence."""
    if isinstance(exc, StaleVersion):
        return Refusal(
            f"{subject} changed since you read it — reload. Nothing was done; "
            "this page now shows it as it is."
        )
    if not isinstance(exc, NotAllowedNow) or event is None:
        return Refusal(as_sentence(exc.message))
    reasons = [r.strip().rstrip(".") for r in exc.reasons if r.strip()]
    if reasons and len(reasons) <= _IN_ONE_SENTENCE:
        return Refusal(f"{subject} cannot {cannot(event)} yet: {'; '.join(reasons)}.")
    if reasons:
        return Refusal(f"{subject} cannot {cannot(event)} yet, for these reasons:", reasons)
    if " is not allowed while " not in exc.message:
        return Refusal(as_sentence(exc.message))  # another refusal: a task done already, …
    text = f"{subject} cannot {cannot(event)} now: it is {state_words(exc.current_state)}"
    if exc.allowed_events:
        text += "; what you may do now: " + ", ".join(words(e) for e in exc.allowed_events)
    return Refusal(text + ".")


def sentence(exc: DomainError, subject: str, event: str | None = None) -> str:
    """The refusal as one string (its reasons, when listed, follow the sentence)."""
    said = refusal(exc, subject, event)
    return " ".join([said.sentence, *(f"{as_sentence(r)}" for r in said.reasons)])
