"""What every query shares: people as shown to users, and keyset pages."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from workflow.errors import InvalidInput
from workflow.models import Agreement, User

T = TypeVar("T")


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class Person(View):
    id: int
    name: str
    email: str


class AgreementRef(View):
    id: int
    key: str
    title: str


@dataclass(frozen=True)
class Slice(Generic[T]):
    """One page of a keyset-ordered list; `next_after` is where the next page starts."""

    items: list[T]
    next_after: list[Any] | None


def people(session: Session, ids: Iterable[int | None]) -> dict[int, Person]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(User).where(col(User.id).in_(wanted))).all()
    return {u.id: Person(id=u.id, name=u.name, email=u.email) for u in rows if u.id is not None}


def agreement_ref(agreement: Agreement) -> AgreementRef:
    assert agreement.id is not None
    return AgreementRef(id=agreement.id, key=agreement.key, title=agreement.title)


def page_of(
    rows: list[T], limit: int, position: Callable[[T], list[Any]]
) -> tuple[list[T], list[Any] | None]:
    """Trim the extra row fetched to detect a next page; `position` maps a row to its key."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, position(rows[-1])


def after_int(after: list[Any] | None) -> int | None:
    """The number (an id, a sequence number) a cursor of a list ordered by it points after."""
    if after is None:
        return None
    if len(after) == 1 and isinstance(after[0], int):
        return after[0]
    raise _bad_cursor()


def after_date_and_id(after: list[Any] | None) -> tuple[date, int] | None:
    """The (date, id) a cursor of a list ordered by a date then id points after."""
    if after is None:
        return None
    if len(after) == 2 and isinstance(after[0], str) and isinstance(after[1], int):
        try:
            return date.fromisoformat(after[0]), after[1]
        except ValueError:
            pass
    raise _bad_cursor()


def _bad_cursor() -> InvalidInput:
    return InvalidInput("invalid cursor", [{"field": "cursor", "message": "not a cursor"}])


def one_of(field: str, value: str | None, allowed: Iterable[str]) -> str | None:
    """`value` if it is one of `allowed` (or None); otherwise a refusal naming the field."""
    options = list(allowed)
    if value is None or value in options:
        return value
    raise InvalidInput(
        f"unknown {field} {value!r}", [{"field": field, "message": f"one of {', '.join(options)}"}]
    )
