"""Domain errors. They know nothing about HTTP; `api/` maps each to a status once."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """Base of every refusal the engine gives; `message` is what people read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """Unknown, or not visible to the caller (never reveal which)."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class InvalidInput(DomainError):
    """The request is well-formed but names bad values; `errors` lists each field."""

    def __init__(self, message: str, errors: Sequence[dict[str, str]] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


class Conflict(DomainError):
    """The request clashes with the current data (a duplicate, a used key)."""


class StaleVersion(Conflict):
    """Someone changed the version since the caller read it."""

    def __init__(self, message: str, current_lock_version: int | None = None) -> None:
        super().__init__(message)
        self.current_lock_version = current_lock_version


class NotAllowedNow(Conflict):
    """An event the current state (or its guards) does not allow."""

    def __init__(
        self,
        message: str,
        *,
        current_state: str,
        allowed_events: Sequence[str],
        reasons: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.current_state = current_state
        self.allowed_events = list(allowed_events)
        self.reasons = list(reasons)
