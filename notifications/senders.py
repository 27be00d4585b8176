"""Where emails go: an SMTP server, `.eml` files, the console, or a list in memory (tests).

Chosen by `ACCORD_MAIL_BACKEND`. Every failure a sender raises is a `DeliveryError` that
says whether trying again later may help (`transient`) and whether the server itself is
unreachable (`connection`: the rest of a batch would fail the same way, so the dispatcher
stops). SMTP replies follow RFC 5321: 4xx transient, 5xx permanent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import ssl
import sys
import threading
import uuid
from collections.abc import Callable, Iterable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import IO, Protocol

from workflow.settings import Settings

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A message could not be handed over."""

    def __init__(self, message: str, *, transient: bool, connection: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.connection = connection

    @property
    def kind(self) -> str:
        return "transient" if self.transient else "permanent"


class Sender(Protocol):
    """Hands over one message at a time; `close` ends a batch (e.g. the SMTP connection)."""

    def send(self, message: EmailMessage) -> None: ...

    def close(self) -> None: ...


def _recipients(message: EmailMessage) -> list[str]:
    found: list[str] = []
    for header in ("To", "Cc", "Bcc"):
        for value in message.get_all(header, []):
            found.extend(a.addr_spec for a in getattr(value, "addresses", ()))
    return found


# RFC 3207 / 4954: authentication or TLS required (530), mechanism too weak (534),
# credentials invalid (535), encryption needed for this mechanism (538).
_ABOUT_US = frozenset({530, 534, 535, 538})


def smtp_error(exc: Exception) -> DeliveryError:
    """Classify what smtplib or the socket raised."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = {code for code, _ in exc.recipients.values()}
        detail = "; ".join(
            f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items()
        )
        # Retry while any refusal is temporary; a retry re-offers only this email.
        transient = any(400 <= code < 500 for code in codes)
        return DeliveryError(f"every recipient refused: {detail}", transient=transient)
    if isinstance(
        exc, smtplib.SMTPAuthenticationError | smtplib.SMTPHeloError | smtplib.SMTPConnectError
    ) or (isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code in _ABOUT_US):
        # The server's verdict on us (greeting, login, TLS required), not on the message:
        # keep the messages until an operator fixes it, rather than dead-letter every one.
        return DeliveryError(
            f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}", transient=True, connection=True
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        transient = not 500 <= code < 600
        # 421: the server is closing the session, so the rest of the batch would fail too.
        return DeliveryError(
            f"SMTP {code} {_text(exc.smtp_error)}", transient=transient, connection=code == 421
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"SMTP: {exc}", transient=True, connection=True)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"SMTP disconnected: {exc}", transient=True, connection=True)
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"SMTP timed out: {exc}", transient=True, connection=True)
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"TLS failed: {exc}", transient=True, connection=True)
    if isinstance(exc, OSError):  # refused, reset, unreachable, name not resolved
        return DeliveryError(
            f"cannot reach the SMTP server: {exc.strerror or exc}", transient=True, connection=True
        )
    return DeliveryError(f"SMTP: {type(exc).__name__}: {exc}", transient=True)


def _text(value: bytes | str) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    return " ".join(text.split())


class SmtpSender:
    """smtplib, one connection per batch, reopened after any failure. One per thread."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.starttls = starttls
        self.username, self._password = username, password
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:  # never the password
        return f"SmtpSender({self.host}:{self.port}, starttls={self.starttls})"

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(
            self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
        )
        try:
            if self.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self._password or "")
        except BaseException:
            _quietly_close(smtp)
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused = self._smtp.send_message(message)
        except Exception as exc:
            error = smtp_error(exc)
            if error.connection or not isinstance(exc, smtplib.SMTPResponseException):
                self.close()  # the session is in an unknown state; start afresh
            else:
                self._reset()
            raise error from exc
        if refused:
            # Others accepted it, so it counts as sent: resending would duplicate it for them.
            log.warning(
                "%s: some recipients refused: %s",
                message.get("Message-ID"),
                "; ".join(f"{r}: {code} {_text(text)}" for r, (code, text) in refused.items()),
            )

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                _quietly_close(smtp)


def _quietly_close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        smtp.close()


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileSender:
    """One `.eml` file per message, named after its Message-ID: a resend overwrites it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, message: EmailMessage) -> Path:
        message_id = str(message.get("Message-ID", "")).strip("<> ")
        name = _UNSAFE.sub("_", message_id)[:150] or uuid.uuid4().hex
        return self.directory / f"{name}.eml"

    def send(self, message: EmailMessage) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.path_for(message)
            partial = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
            partial.write_bytes(message.as_bytes(policy=SMTP_POLICY))
            os.replace(partial, path)  # readers never see half a message
        except OSError as exc:
            raise DeliveryError(f"cannot write {self.directory}: {exc}", transient=True) from exc

    def close(self) -> None:
        pass


class ConsoleSender:
    """Prints each message (the demo without a mail server, or a developer's terminal)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def send(self, message: EmailMessage) -> None:
        stream = self.stream or sys.stdout
        stream.write(f"----- mail to {', '.join(_recipients(message))} -----\n")
        stream.write(message.as_string())
        stream.write("\n----- end -----\n")
        stream.flush()

    def close(self) -> None:
        pass


class MemorySender:
    """Keeps what it was given. Thread-safe. `failures` scripts the next sends: each error is
    raised by one send, each None lets one through."""

    def __init__(self, failures: Iterable[DeliveryError | None] = ()) -> None:
        self.sent: list[EmailMessage] = []
        self.failures = list(failures)
        self.closed = 0
        self.before_send: Callable[[EmailMessage], None] | None = None
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        if self.before_send is not None:
            self.before_send(message)
        with self._lock:
            failure = self.failures.pop(0) if self.failures else None
            if failure is not None:
                raise failure
            self.sent.append(message)

    def close(self) -> None:
        with self._lock:
            self.closed += 1

    def recipients(self) -> list[list[str]]:
        with self._lock:
            return [_recipients(m) for m in self.sent]


def sender_from_settings(settings: Settings) -> Sender:
    """The sender `ACCORD_MAIL_BACKEND` names."""
    match settings.mail_backend:
        case "smtp":
            return SmtpSender(
                settings.smtp_host,
                settings.smtp_port,
                starttls=settings.smtp_starttls,
                username=settings.smtp_username,
                password=(
                    settings.smtp_password.get_secret_value() if settings.smtp_password else None
                ),
                timeout=settings.smtp_timeout_seconds,
                local_hostname=settings.smtp_local_hostname,
            )
        case "console":
            return ConsoleSender()
        case "memory":
            return MemorySender()
        case _:
            return FileSender(settings.mail_dir)
