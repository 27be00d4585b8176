"""Who receives an outbox message, worked out when it is sent rather than when it was queued.

An outbox row names its recipients by a small JSON spec (`notifications.recipient_spec`).
Each person named (a *principal*) who has delegated their tasks to an active colleague for
today is replaced by that delegate, with the principal copied. Inactive users receive nothing.
Nobody appears twice in one message, and people already served by an earlier attempt (a
`NotificationDelivery` row) are left out, so a retry only reaches those still waiting.

A message becomes one *envelope* per addressee (To), with the delegators it stands in for in
Cc; people who chose the digest get a *share* kept for their daily digest instead, and people
who switched the message's topic group off get nothing (`notifications.preferences`: task
emails are never off). Each recipient carries the signed token of their footer's manage link.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session

from notifications.directory import Directory, Person
from notifications.preferences import group_of
from notifications.recipient_spec import RecipientSpecError, Request, Spec, parse_spec
from states import Role, Side


@dataclass(frozen=True)
class Recipient:
    """One person and why they receive the message."""

    person: Person
    reason: str
    side: str | None = None
    role: str | None = None
    acting_for: Person | None = None  # reason "delegate": whose task it is
    delegate: Person | None = None  # reason "delegator": who acts for them
    group: str | None = None  # the message's topic group (None: the digest itself)
    link_token: str | None = None  # signs the footer's manage / unsubscribe link

    @property
    def user_id(self) -> int:
        return self.person.user_id


@dataclass(frozen=True)
class Envelope:
    """One email: its addressee, and the delegators copied on it."""

    to: Recipient
    cc: tuple[Recipient, ...] = ()

    @property
    def people(self) -> tuple[Recipient, ...]:
        return (self.to, *self.cc)


@dataclass(frozen=True)
class Resolution:
    envelopes: tuple[Envelope, ...] = ()
    digest: tuple[Recipient, ...] = ()  # shares kept for the daily digest

    @property
    def empty(self) -> bool:
        return not self.envelopes and not self.digest


@dataclass(frozen=True)
class _Principal:
    user_id: int
    reason: str
    side: str | None = None
    role: str | None = None
    broadcast: bool = False  # reached as one of all the stakeholders, not by name or role


def _principals(request: Request, spec: Spec, directory: Directory) -> list[_Principal]:
    """Everyone the spec names, in its order: users, then roles, then all stakeholders."""
    found = [_Principal(u, spec.reason or "assignee") for u in spec.user_ids]
    held = directory.assignments.get(request.agreement_id or 0, {})
    reason = spec.reason or "role_holder"
    for side, role in spec.roles:
        holder = held.get((side, role))
        if holder is None:
            role = Role.PROGRAM_MANAGER
            holder = held.get((side, role))
        if holder is not None:
            found.append(_Principal(holder, reason, side.value, role.value))
    if spec.stakeholders:
        for side in Side:
            for role in Role:
                holder = held.get((side, role))
                if holder is not None:
                    found.append(_Principal(holder, reason, side.value, role.value, broadcast=True))
    return found


@dataclass
class _Builder:
    """Places each person once: in an envelope (To or Cc), in the digest, or nowhere (off)."""

    directory: Directory
    immediate: bool
    placed: set[int]
    topic: str | None = None
    envelopes: dict[int, tuple[Recipient, list[Recipient]]] = field(default_factory=dict)
    digest: list[Recipient] = field(default_factory=list)

    def _elsewhere(self, recipient: Recipient, roles: Sequence[str], broadcast: bool) -> bool:
        """True when the person is not mailed now: kept for the digest, or off."""
        if self.immediate:
            return False
        mode = self.directory.mode(recipient.user_id, self.topic, roles, broadcast=broadcast)
        if mode == "digest":
            self.digest.append(recipient)
        return mode != "immediate"

    def add(self, recipient: Recipient, roles: Sequence[str] = (), broadcast: bool = False) -> None:
        if recipient.user_id in self.placed:
            return
        self.placed.add(recipient.user_id)
        if not self._elsewhere(recipient, roles, broadcast):
            self.envelopes[recipient.user_id] = (recipient, [])

    def copy(
        self, recipient: Recipient, *, on: int, roles: Sequence[str] = (), broadcast: bool = False
    ) -> None:
        """Copy `recipient` on the envelope addressed to `on`, or mail them on their own."""
        if recipient.user_id in self.placed:
            return
        self.placed.add(recipient.user_id)
        if self._elsewhere(recipient, roles, broadcast):
            return
        if on in self.envelopes:
            self.envelopes[on][1].append(recipient)
        else:
            self.envelopes[recipient.user_id] = (recipient, [])

    def resolution(self) -> Resolution:
        return Resolution(
            envelopes=tuple(Envelope(to, tuple(cc)) for to, cc in self.envelopes.values()),
            digest=tuple(self.digest),
        )


def resolve_one(request: Request, spec: Spec, directory: Directory) -> Resolution:
    group = group_of(request.topic) if request.topic is not None else None
    builder = _Builder(
        directory,
        spec.immediate,
        placed=set(directory.delivered.get(request.outbox_id, ())),
        topic=request.topic,
    )
    seen: set[int] = set()
    for principal in _principals(request, spec, directory):
        if principal.user_id in seen:
            continue
        seen.add(principal.user_id)
        person = directory.person(principal.user_id)
        delegate_id = directory.delegate_of.get(principal.user_id) if spec.delegate else None
        delegate = directory.person(delegate_id) if delegate_id is not None else None
        # A broadcast's default follows the seat: the principal's roles on the agreement, for
        # the colleague standing in for them too.
        roles = directory.roles_on(request.agreement_id, principal.user_id)
        if delegate is not None and delegate.user_id != principal.user_id:
            # Someone away still hears of their own work (in copy); an inactive principal's
            # work still reaches the colleague acting for them.
            builder.add(
                Recipient(
                    delegate,
                    "delegate",
                    principal.side,
                    principal.role,
                    acting_for=person,
                    group=group,
                    link_token=directory.token(delegate.user_id, group),
                ),
                roles,
                principal.broadcast,
            )
            if person is not None:
                builder.copy(
                    Recipient(
                        person,
                        "delegator",
                        principal.side,
                        principal.role,
                        delegate=delegate,
                        group=group,
                        link_token=directory.token(person.user_id, group),
                    ),
                    on=delegate.user_id,
                    roles=roles,
                    broadcast=principal.broadcast,
                )
        elif person is not None:
            builder.add(
                Recipient(
                    person,
                    principal.reason,
                    principal.side,
                    principal.role,
                    group=group,
                    link_token=directory.token(person.user_id, group),
                ),
                roles,
                principal.broadcast,
            )
    return builder.resolution()


def resolve(
    session: Session, requests: Iterable[Request], *, today: date, link_key: str | None = None
) -> dict[int, Resolution | RecipientSpecError]:
    """Each request's recipients (by outbox id), or the error in its spec."""
    results: dict[int, Resolution | RecipientSpecError] = {}
    specs: dict[int, tuple[Request, Spec]] = {}
    for request in requests:
        try:
            spec = parse_spec(request.recipients)
        except RecipientSpecError as error:
            results[request.outbox_id] = error
            continue
        if spec.needs_agreement and request.agreement_id is None:
            results[request.outbox_id] = RecipientSpecError(
                "roles and stakeholders need the row's agreement_id"
            )
            continue
        specs[request.outbox_id] = (request, spec)
    directory = Directory.load(session, specs, today=today)
    directory.link_key = link_key
    for outbox_id, (request, spec) in specs.items():
        results[outbox_id] = resolve_one(request, spec, directory)
    return results


def resolve_message(
    session: Session,
    *,
    outbox_id: int,
    agreement_id: int | None,
    recipients: Mapping[str, Any],
    today: date,
    topic: str | None = None,
    link_key: str | None = None,
) -> Resolution:
    """One row's recipients; raises RecipientSpecError for a bad spec."""
    result = resolve(
        session,
        [Request(outbox_id, agreement_id, recipients, topic)],
        today=today,
        link_key=link_key,
    )[outbox_id]
    if isinstance(result, RecipientSpecError):
        raise result
    return result


def addresses(recipients: Sequence[Recipient]) -> list[str]:
    return [r.person.email for r in recipients]
