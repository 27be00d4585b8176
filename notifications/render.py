"""Outbox payloads into emails: one jinja2 environment, a text and an HTML part per topic.

`<topic>.txt` extends `layout.txt` and sets, outside any block, `subject`, `headline`,
`facts`, `action` and `link`; `<topic>.html` extends `layout.html`, which shows the same
values (passed in as plain strings, so they are escaped there), and adds its own `body`.
Payload text (titles, comments, names) is only ever data: it is escaped in HTML, never
evaluated as template code, and flattened to one line wherever it reaches a header.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    Undefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup, escape

from notifications import formats
from notifications.reports.mail import SEND_TIME_PARTS
from notifications.topics import TOPICS, reminder_step, task_ask
from states import LIFECYCLE, Role, Side

SUBJECT_MAX = 200
MESSAGE_ID_DOMAIN = "accord.local"
_EXPORTS = ("subject", "headline", "facts", "action", "link")
_MESSAGE_ID = re.compile(r"<[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+>")

P = ParamSpec("P")
R = TypeVar("R")


class RenderError(Exception):
    """An outbox row cannot become an email: unknown topic, or a payload field missing."""


class UnknownTopicError(RenderError):
    pass


class Reason(StrEnum):
    """Why a recipient receives a message; the email's footer says so."""

    ASSIGNEE = "assignee"
    DELEGATE = "delegate"  # acts for `acting_for`, whose task it is
    DELEGATOR = "delegator"  # copied: `delegate` acts for them
    ROLE_HOLDER = "role_holder"  # holds a role on the agreement (`side`, `role` if known)
    ESCALATION = "escalation"  # the role an overdue task escalated to
    DIGEST = "digest"  # chose one daily digest instead of immediate mail


@dataclass(frozen=True)
class RecipientInfo:
    """Who reads the email and why: names here are display names, never addresses."""

    name: str
    email: str
    reason: Reason
    acting_for: str | None = None  # DELEGATE: the delegator's name
    delegate: str | None = None  # DELEGATOR: the delegate's name
    side: str | None = None  # ROLE_HOLDER / ESCALATION: the seat held, when known
    role: str | None = None
    manage_link: str | None = None  # the footer's signed link to choose what they receive

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", Reason(self.reason))  # a plain str is checked too


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    link: str  # the page the email points to
    summary: str  # the headline: one sentence, e.g. for the daily digest


def one_line(value: object) -> str:
    """Control characters (CR, LF, TAB, ...) and runs of whitespace become one space."""
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in str(value))
    return " ".join(text.split())


def _subject(value: str) -> str:
    subject = one_line(value)
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1].rstrip() + "…"
    return subject


# --- filters and globals the templates use -------------------------------------------------
# Days, moments, money, figures and code words come from `notifications.formats`, the one
# place that writes them for emails and pages alike.


def _when(value: object) -> dt.date | dt.datetime | str:
    if isinstance(value, dt.date | str):
        return value
    raise TypeError(f"not a date: {value!r}")


def long_date(value: object) -> str:
    """'Friday 13 March 2026': no locale, no ambiguity between day and month; a moment is
    placed on the business calendar first, as on the pages."""
    return formats.long_day(_when(value))


def short_date(value: object) -> str:
    """'Fri 13 Mar 2026', as the pages write a day."""
    return formats.day(_when(value))


def moment(value: object) -> str:
    """'Thu 3 Dec 2026, 08:45 EST': in the business time zone, named."""
    if isinstance(value, dt.datetime | str):
        return formats.moment(value)
    raise TypeError(f"not a moment: {value!r}")


def role_label(value: str) -> str:
    return Role(value).label


def seat(side: str, role: str, *, capital: bool = False) -> str:
    """'customer Business Owner' (or 'Customer Business Owner')."""
    side_name = Side(side).value
    return f"{side_name.capitalize() if capital else side_name} {role_label(role)}"


def version_no(version: Mapping[str, Any]) -> str:
    """'2 (modification 1)'; the original (modification 0) is just its number.

    Empty for a task of no version (a reporting period's), which the layouts then leave out.
    """
    if version.get("number") is None:
        return ""
    number, modification = int(version["number"]), int(version["modification_number"] or 0)
    return f"{number}" + (f" (modification {modification})" if modification else "")


def version_label(version: Mapping[str, Any]) -> str:
    return f"version {version_no(version)}"


def business_days(count: object) -> str:
    n = int(str(count))
    return f"{n} business day" + ("" if n == 1 else "s")


def state_label(value: str) -> str:
    return formats.words(value)


def quote(value: object) -> str:
    """Plain-text quotation: every line of what someone wrote, prefixed with '> '."""
    return "\n".join(f"> {line}".rstrip() for line in str(value).splitlines() or [""])


def nl2br(value: object) -> Markup:
    """HTML: each line escaped, line breaks kept."""
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


def escalation_policy(task_role: str) -> str:
    """The policy's escalations in words, leaving out the task's own role (never to oneself)."""
    escalations = [(d, r) for d, r in LIFECYCLE.reminders.escalations if r != Role(task_role)]
    if not escalations:
        return ""
    (first_days, first_role), *later = escalations
    steps = [f"to the side's {first_role.label} after {business_days(first_days)}"]
    steps += [f"to its {role.label} after {days}" for days, role in later]
    listed = steps[0] if len(steps) == 1 else ", ".join(steps[:-1]) + " and " + steps[-1]
    return f"If it stays overdue, it is escalated {listed}."


def for_whom(task: Mapping[str, Any], recipient: RecipientInfo) -> str:
    """Who the task is for, from this recipient's point of view."""
    who = seat(task["side"], task["role"], capital=True)
    if recipient.reason == Reason.ASSIGNEE:
        return f"{who} (you)"
    if recipient.reason == Reason.DELEGATE:
        return f"{who}: {one_line(recipient.acting_for or 'a colleague')}, for whom you act"
    if recipient.reason == Reason.DELEGATOR:
        return f"{who} (you; {one_line(recipient.delegate or 'your delegate')} acts for you)"
    return who


@pass_context
def agreement_url(context: Context, agreement: Mapping[str, Any]) -> str:
    return f"{context['base_url']}/slas/{int(agreement['id'])}"


@pass_context
def task_url(context: Context, task: Mapping[str, Any]) -> str:
    return f"{context['base_url']}/tasks/{int(task['id'])}"


@pass_context
def page_url(context: Context, path: str) -> str:
    return f"{context['base_url']}/{path.lstrip('/')}"


@pass_context
def safe_link(context: Context, link: str) -> str:
    """A link from a payload: a path under Accord, or an absolute http(s) URL; nothing else."""
    if link.startswith("/") and not link.startswith("//"):
        return f"{context['base_url']}{link}"
    if re.match(r"https?://[^\s<>\"']+\Z", link):
        return link
    raise RenderError(f"refusing link {link!r}: not an http(s) URL or a path")


def _why(recipient: RecipientInfo, payload: Mapping[str, Any]) -> str:
    if "account" in payload:  # account.* topics: about the account, never a task or role
        return "You receive this because an account on Accord has this email address."
    agreement = payload.get("agreement")
    on = f" on {one_line(agreement['key'])}" if isinstance(agreement, Mapping) else ""
    held = (
        seat(recipient.side, recipient.role)
        if recipient.side is not None and recipient.role is not None
        else None
    )
    match recipient.reason:
        case Reason.ASSIGNEE:
            return "You receive this because the task is assigned to you."
        case Reason.DELEGATE:
            whom = one_line(recipient.acting_for or "a colleague")
            return f"You receive this because you act for {whom} while they are away."
        case Reason.DELEGATOR:
            whom = one_line(recipient.delegate or "your delegate")
            return f"You receive a copy because {whom} acts for you while you are away."
        case Reason.ROLE_HOLDER:
            if held:
                return f"You receive this because you are the {held}{on}."
            return f"You receive this because you are a stakeholder{on}."
        case Reason.ESCALATION:
            target = f"the {held}" if held else "you"
            return f"You receive this because overdue tasks{on} escalate to {target}."
        case Reason.DIGEST:
            return "You receive one digest a day because you chose digest delivery."


def _strict(function: Callable[P, R]) -> Callable[P, R]:
    """A filter or global handed a missing payload field fails, naming the field."""

    @functools.wraps(function)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, Undefined):
                str(arg)  # StrictUndefined raises UndefinedError here, naming what is missing
                raise RenderError("a template was handed an undefined value")
        return function(*args, **kwargs)

    return checked


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("notifications", "templates"),
        # Escaping is decided by extension: .html escaped, .txt not, anything else escaped.
        autoescape=select_autoescape(
            enabled_extensions=("html",),
            disabled_extensions=("txt",),
            default_for_string=True,
            default=True,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    filters: dict[str, Callable[..., Any]] = {
        "long_date": long_date,
        "short_date": short_date,
        "role_label": role_label,
        "business_days": business_days,
        "state_label": state_label,
        "moment": moment,
        "money": formats.money,
        "figure": formats.figure,
        "measured": formats.measured,
        "oneline": one_line,
        "quote": quote,
        "nl2br": nl2br,
        "safe_link": safe_link,
    }
    functions: dict[str, Callable[..., Any]] = {
        "seat": seat,
        "version_label": version_label,
        "version_no": version_no,
        "for_whom": for_whom,
        "escalation_policy": escalation_policy,
        "task_ask": task_ask,
        "reminder_step": reminder_step,
        "agreement_url": agreement_url,
        "task_url": task_url,
        "page_url": page_url,
    }
    env.filters.update({name: _strict(f) for name, f in filters.items()})
    env.globals.update({name: _strict(f) for name, f in functions.items()})
    return env


ENV = _environment()


def _base_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#<>\"']+(/[^\s?#<>\"']*)?", base):
        raise RenderError(f"ACCORD_BASE_URL must be an http(s) URL, not {base_url!r}")
    return base


def render(
    topic: str, payload: Mapping[str, Any], recipient: RecipientInfo, *, base_url: str
) -> Rendered:
    """The email for one outbox row and one recipient."""
    if topic not in TOPICS:
        raise UnknownTopicError(f"no templates for topic {topic!r}; known: {sorted(TOPICS)}")
    context: dict[str, Any] = {
        "topic": topic,
        "recipient": recipient,
        "why": _why(recipient, payload),
        "base_url": _base_url(base_url),
    }
    clash = context.keys() & payload.keys()
    if clash:
        raise RenderError(f"{topic}: payload fields {sorted(clash)} are reserved")
    context.update(payload)
    try:
        parts = SEND_TIME_PARTS.get(topic)
        if parts is not None:
            context.update(parts(payload))
        module = ENV.get_template(f"{topic}.txt").make_module(context)
        missing = [name for name in _EXPORTS if not hasattr(module, name)]
        if missing:
            raise RenderError(f"{topic}.txt must set {missing}")
        exported: dict[str, Any] = {name: getattr(module, name) for name in _EXPORTS}
        text = str(module)
        html = ENV.get_template(f"{topic}.html").render({**context, **exported})
    except (TemplateError, KeyError, TypeError, ValueError) as error:
        raise RenderError(f"cannot render {topic}: {error}") from error
    return Rendered(
        subject=_subject(exported["subject"]),
        text=text,
        html=html,
        link=str(exported["link"]),
        summary=one_line(exported["headline"]),
    )


# --- the message --------------------------------------------------------------------------


def message_id_for(
    outbox_id: int, recipient_user_id: int | None = None, *, domain: str = MESSAGE_ID_DOMAIN
) -> str:
    """Stable per (outbox row, recipient): a resend after a crash is recognisably the same mail."""
    local = f"outbox-{int(outbox_id)}" + (
        f".{int(recipient_user_id)}" if recipient_user_id is not None else ""
    )
    return f"<{local}@{domain}>"


def _address(name: str, email: str) -> Address:
    if one_line(email) != email or " " in email:
        raise ValueError(f"invalid email address {email!r}")
    return Address(display_name=one_line(name), addr_spec=email)


def build_message(
    rendered: Rendered,
    *,
    sender: tuple[str, str],
    to: Sequence[tuple[str, str]],
    cc: Sequence[tuple[str, str]] = (),
    message_id: str,
    date: dt.datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML last. Pairs are (name, email)."""
    if not to:
        raise ValueError("a message needs at least one To recipient")
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"invalid Message-ID {message_id!r}")
    message = EmailMessage()
    message["Subject"] = _subject(rendered.subject)
    message["From"] = _address(*sender)
    message["To"] = tuple(_address(name, email) for name, email in to)
    if cc:
        message["Cc"] = tuple(_address(name, email) for name, email in cc)
    message["Message-ID"] = message_id
    if date is not None:
        message["Date"] = format_datetime(date)
    # RFC 3834: no out-of-office replies to machine mail.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
