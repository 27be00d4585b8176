"""Signed links in every email's footer: manage one topic group, or leave it in one click.

A token names a user and a topic group and carries an HMAC of both under the database's link
key (`NotificationLinkKey`), so it needs no sign-in, is worthless for another person or group,
and works in every process that shares the database. It does not expire: an unsubscribe link
in an old email must still work (RFC 8058 expects it to for a reasonable time), and all it
can do is change that one person's choice for that one group.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from workflow.db import begin_write
from workflow.models import NotificationLinkKey
from workflow.models.notifications import TOPIC_GROUPS

_KEY_ID = 1
_PURPOSE = "notification-link"
_TOKEN = re.compile(r"([1-9][0-9]{0,17})\.([a-z]{1,20})\.([A-Za-z0-9_-]{43})")
_TABLE = NotificationLinkKey.__table__  # type: ignore[attr-defined]
_CREATE = {
    name: dialect.insert(_TABLE).on_conflict_do_nothing(index_elements=["id"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}

MANAGE_PATH = "/notifications/manage"
UNSUBSCRIBE_PATH = "/notifications/unsubscribe"


@dataclass(frozen=True)
class LinkTarget:
    user_id: int
    group: str


def read_link_key(session: Session) -> str | None:
    key = session.get(NotificationLinkKey, _KEY_ID)
    return key.secret if key is not None else None


def link_key(engine: Engine) -> str:
    """The key, made on first use (two dispatchers racing keep the first one written)."""
    with Session(engine) as session:
        found = read_link_key(session)
        if found is not None:
            return found
        begin_write(session)
        connection = session.connection()
        connection.execute(
            _CREATE[connection.dialect.name],
            [{"id": _KEY_ID, "secret": secrets.token_urlsafe(48)}],
        )
        session.commit()
        found = read_link_key(session)
        assert found is not None
        return found


def _mac(key: str, user_id: int, group: str) -> str:
    mac = hmac.new(key.encode(), f"{_PURPOSE}\x00{user_id}\x00{group}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def make_token(key: str, user_id: int, group: str) -> str:
    return f"{user_id}.{group}.{_mac(key, user_id, group)}"


def check_token(key: str | None, token: str) -> LinkTarget | None:
    """Who and which group a token is for; None for a malformed, forged or altered one."""
    match = _TOKEN.fullmatch(token)
    if key is None or match is None or match.group(2) not in TOPIC_GROUPS:
        return None
    user_id, group = int(match.group(1)), match.group(2)
    if not hmac.compare_digest(match.group(3), _mac(key, user_id, group)):
        return None
    return LinkTarget(user_id, group)


def manage_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{MANAGE_PATH}/{token}"


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{UNSUBSCRIBE_PATH}/{token}"
