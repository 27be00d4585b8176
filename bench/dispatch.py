"""`python -m bench.dispatch`: outbox dispatch throughput to a local SMTP server, as JSON.

Queues `--messages` task-like outbox rows for the example's 18 stakeholders, then times
`dispatch_pending` (claim, resolve recipients, render, send over SMTP, mark) on `--workers`
threads until the outbox is empty, and checks every message arrived exactly once.

The SMTP server is aiosmtpd on 127.0.0.1: in this process (default; it shares the GIL with the
dispatcher, and counts what arrives) or in a child process (`--server subprocess`, aiosmtpd's
Sink). The renderer builds a multipart email of about the templates' size without jinja2, so
the figure is the delivery machinery's, not the templates'.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from aiosmtpd.controller import Controller
from sqlmodel import Session, func, select

from bench.machine import load_average, machine_info
from bench.runner import rate
from bench.target import open_target
from notifications.dispatch import DispatchCounts, Outgoing, RetryPolicy, dispatch_pending
from notifications.recipients import Envelope
from notifications.senders import SmtpSender
from workflow.command import command
from workflow.db import make_engine
from workflow.example import load_example, seed_parties
from workflow.models import OutboxMessage
from workflow.schema import upgrade

HOST = "127.0.0.1"
T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
FILLER = "Read the draft and either accept it or request changes, with a comment. " * 8


class Counter:
    """aiosmtpd handler: counts Message-IDs, so duplicates and losses show."""

    def __init__(self) -> None:
        self.ids: list[bytes] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content: bytes = envelope.content
        start = content.find(b"Message-ID: ")
        with self._lock:
            self.ids.append(content[start : content.find(b"\r\n", start)])
        return "250 OK"


def render(message: Outgoing, envelope: Envelope) -> EmailMessage:
    """About the size and shape of a templated email: plain text and HTML, To, Cc, a link."""
    link = f"https://accord.example/slas/{message.payload['agreement']['id']}/tasks/{message.id}"
    email = EmailMessage()
    email["Subject"] = f"Review the draft: {message.payload['agreement']['title']}"
    email["From"] = "Accord <accord@accord.example>"
    email["To"] = f"{envelope.to.person.name} <{envelope.to.person.email}>"
    if envelope.cc:
        email["Cc"] = ", ".join(f"{c.person.name} <{c.person.email}>" for c in envelope.cc)
    email["Message-ID"] = f"<outbox-{message.id}.{envelope.to.user_id}@accord.example>"
    email["Date"] = format_datetime(message.created_at)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(f"Hello {envelope.to.person.name},\n\n{FILLER}\n\n{link}\n")
    email.add_alternative(
        f"<p>Hello {envelope.to.person.name},</p><p>{FILLER}</p>"
        f'<p><a href="{link}">Open the task</a></p>',
        subtype="html",
    )
    return email


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def smtp_server(kind: str) -> Iterator[tuple[int, Counter | None]]:
    port = _free_port()
    if kind == "inprocess":
        counter = Counter()
        controller = Controller(counter, hostname=HOST, port=port, server_hostname="bench.local")
        controller.start()
        try:
            yield port, counter
        finally:
            controller.stop()
        return
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"{HOST}:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.5):
                break
            if time.monotonic() > deadline or child.poll() is not None:
                raise SystemExit("the aiosmtpd child process did not start listening")
            time.sleep(0.05)
        yield port, None
    finally:
        child.terminate()
        child.wait(10)


def queue(url: str, messages: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        parties = seed_parties(session, load_example(), now=T0)
        people = [a.user_id for a in parties.actors.values()]
        for start in range(0, messages, 500):
            with command(session) as tx:
                for n in range(start, min(start + 500, messages)):
                    tx.enqueue(
                        topic="bench.message",
                        dedupe_key=f"bench:{n}",
                        now=T0,
                        recipients={"user_ids": [people[n % len(people)]]},
                        payload={
                            "agreement": {"id": 1, "key": "SLA-2026-0001", "title": "Payroll"},
                            "task": {"id": n, "kind": "review", "due_on": "2026-11-09"},
                        },
                    )
    engine.dispose()


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    queue(url, args.messages)
    engine = make_engine(url, pool_size=max(2, args.workers))
    totals: list[DispatchCounts] = []
    errors: list[BaseException] = []
    policy = RetryPolicy(lease=timedelta(minutes=10))
    with smtp_server(args.server) as (port, counter):
        barrier = threading.Barrier(args.workers + 1)

        def work() -> None:
            sender = SmtpSender(HOST, port, timeout=30, local_hostname="bench.local")
            barrier.wait()
            try:
                totals.append(
                    dispatch_pending(
                        engine,
                        sender=sender,
                        renderer=render,
                        now=T0 + timedelta(minutes=1),
                        limit=args.batch,
                        policy=policy,
                        max_batches=args.messages,
                    )
                )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(args.workers)]
        for t in threads:
            t.start()
        barrier.wait()
        started = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        received = list(counter.ids) if counter is not None else None
    if errors:
        raise errors[0]
    with Session(engine) as session:
        sent = session.exec(select(func.count()).where(OutboxMessage.status == "sent")).one()
    engine.dispose()
    emails = sum(t.emails for t in totals)
    result: dict[str, Any] = {
        "emails": emails,
        "elapsed_s": round(elapsed, 3),
        "emails_per_s": rate(emails, elapsed),
        "ms_per_email": round(1000 * elapsed / emails, 3) if emails else None,
        "rows_sent": sent,
        "batches_per_worker": [t.claimed and -(-t.claimed // args.batch) for t in totals],
    }
    if received is not None:
        result["received"] = len(received)
        result["duplicates"] = len(received) - len(set(received))
        if len(set(received)) != args.messages:
            raise SystemExit(f"received {len(set(received))} of {args.messages} messages")
    if sent != args.messages:
        raise SystemExit(f"only {sent} of {args.messages} rows were marked sent")
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__)
    parser.add_argument("--messages", type=int, default=2000, help="outbox rows (default 2000)")
    parser.add_argument("--batch", type=int, default=50, help="rows per claim (default 50)")
    parser.add_argument("--workers", type=int, default=1, help="dispatcher threads (default 1)")
    parser.add_argument(
        "--server",
        choices=("inprocess", "subprocess"),
        default="inprocess",
        help="aiosmtpd in this process (counts arrivals) or in a child process (default inprocess)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server URL: a scratch database is created there and dropped "
        "afterwards (default: a temporary SQLite file)",
    )
    parser.add_argument("--sqlite-dir", default=None, help="where the SQLite file goes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("messages", "batch", "workers"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name} must be at least 1")
    load_before = load_average()
    with open_target(args.database_url, sqlite_dir=args.sqlite_dir) as target:
        result: dict[str, Any] = {
            "benchmark": "dispatch",
            "command": "python -m bench.dispatch " + " ".join(sys.argv[1:]),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": target.kind,
            "database_detail": target.detail,
            "server": args.server,
            "messages": args.messages,
            "batch": args.batch,
            "workers": args.workers,
        }
        result.update(run(args, target.accord_url))
    result["load_average_before"] = load_before
    result["load_average_after"] = load_average()
    result["machine"] = machine_info()
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
