"""Password hashing (argon2id) and the rules a new password must meet; no database here."""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from workflow.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 200  # argon2 accepts more, but nobody types it and it costs hashing time

# The library's defaults are RFC 9106's low-memory profile: the parameters live in each hash,
# so raising them later only needs `needs_rehash` at the next sign-in.
_HASHER = PasswordHasher()

# Verified when the email is unknown or has no password, so that such an attempt takes as
# long as a real one and the answer time does not reveal which emails exist.
_DUMMY_HASH = _HASHER.hash("accord: no such account, but take as long as if there were one")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash, the same work is done and False returned."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def check_new_password(password: str) -> None:
    """Refuse a password too short or too long to be a good one, naming the rule."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"a password needs at least {MIN_LENGTH} characters",
            [{"field": "password", "message": f"at least {MIN_LENGTH} characters"}],
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInput(
            f"a password may have at most {MAX_LENGTH} characters",
            [{"field": "password", "message": f"at most {MAX_LENGTH} characters"}],
        )


def hash_session_token(token: str) -> str:
    # SHA-256 is enough: the token carries 256 random bits, so there is nothing to guess.
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()
