"""A real SMTP server on 127.0.0.1 (aiosmtpd's Controller, in a thread of the test process).

`Mailbox` is its handler: it keeps what arrives, and can be scripted to answer the next DATA
commands with other replies (a 451 storm, a 554), or to take its time (a slow server).
"""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    session: int  # which SMTP connection carried it


class Mailbox:
    """The server's handler; safe to read from the test's thread."""

    def __init__(self, *, replies: list[str] | None = None, delay: float = 0.0) -> None:
        self.replies = list(replies or [])  # answers to the next DATA commands
        self.delay = delay  # seconds each DATA takes (bounded by the test)
        self.refuse_rcpt: dict[str, str] = {}  # address -> reply to its RCPT
        self.received: list[Received] = []
        self.answered: list[str] = []
        self.in_data = threading.Event()
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self.refuse_rcpt.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.in_data.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            reply = self.replies.pop(0) if self.replies else "250 Message accepted"
            self.answered.append(reply)
            if reply.startswith("250"):
                parsed = email.message_from_bytes(envelope.content, policy=default_policy)
                assert isinstance(parsed, EmailMessage)
                self.received.append(
                    Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, id(session))
                )
        return reply

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [r.message for r in self.received]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def smtp_server(
    mailbox: Mailbox, port: int | None = None, **smtp_options: Any
) -> Iterator[Controller]:
    """The server, listening on 127.0.0.1 until the block ends."""
    controller = Controller(
        mailbox,
        hostname=HOST,
        port=port or free_port(),
        server_hostname="mail.accord.test",
        ready_timeout=5.0,
        **smtp_options,
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung mail server)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def wait_for(condition: Any, *, timeout: float = 5.0) -> bool:
    """Poll `condition()` every 10 ms for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


def client_context_trusting(cert_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cert_file)
    context.check_hostname = False  # the self-signed test certificate names no host
    return context
