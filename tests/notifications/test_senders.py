"""Senders: SMTP against a real server on 127.0.0.1, files, console, memory; how failures are
classified (transient or permanent, and whether the server itself is unreachable)."""

from __future__ import annotations

import io
import shutil
import smtplib
import ssl
import subprocess
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from notifications.senders import (
    ConsoleSender,
    DeliveryError,
    FileSender,
    MemorySender,
    SmtpSender,
    sender_from_settings,
    smtp_error,
)
from tests.notifications.smtp import (
    HOST,
    Mailbox,
    client_context_trusting,
    free_port,
    silent_server,
    smtp_server,
)
from workflow.settings import Settings


def message(n: int = 1, *, to: str = "ana@customer.example", cc: str | None = None) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = f"Message {n}"
    email["From"] = "Accord <accord@accord.test>"
    email["To"] = to
    if cc:
        email["Cc"] = cc
    email["Message-ID"] = f"<outbox-{n}@accord.test>"
    email.set_content(f"Plain {n}\n")
    email.add_alternative(f"<p>HTML {n}</p>", subtype="html")
    return email


def smtp(port: int, **options: Any) -> SmtpSender:
    return SmtpSender(HOST, port, timeout=5.0, local_hostname="client.accord.test", **options)


# ---- SMTP ------------------------------------------------------------------------------------


def test_smtp_delivers_to_every_to_and_cc_on_one_connection_per_batch() -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox) as server:
        sender = smtp(server.port)
        sender.send(message(1, cc="bo@customer.example"))
        sender.send(message(2))
        sender.close()
        sender.send(message(3))  # a new batch opens a new connection
        sender.close()
    first, second, third = mailbox.received
    assert first.mail_from == "accord@accord.test"
    assert first.rcpt_tos == ["ana@customer.example", "bo@customer.example"]
    assert first.message["Subject"] == "Message 1"
    assert first.message.get_content_type() == "multipart/alternative"
    assert first.session == second.session != third.session


def test_a_refused_connection_is_transient_and_stops_the_batch() -> None:
    with pytest.raises(DeliveryError) as caught:
        smtp(free_port()).send(message())
    assert (caught.value.transient, caught.value.connection) == (True, True)
    assert "cannot reach" in str(caught.value)


def test_a_server_that_never_answers_times_out_transiently() -> None:
    with silent_server() as port:
        sender = SmtpSender(HOST, port, timeout=0.3, local_hostname="client.accord.test")
        with pytest.raises(DeliveryError) as caught:
            sender.send(message())
    assert (caught.value.transient, caught.value.connection) == (True, True)


@pytest.mark.parametrize(
    ("reply", "transient"),
    [("451 4.3.0 Try again later", True), ("554 5.6.0 Message rejected", False)],
)
def test_smtp_replies_4xx_are_transient_and_5xx_permanent(reply: str, transient: bool) -> None:
    mailbox = Mailbox(replies=[reply])
    with smtp_server(mailbox) as server:
        sender = smtp(server.port)
        with pytest.raises(DeliveryError) as caught:
            sender.send(message(1))
        assert (caught.value.transient, caught.value.connection) == (transient, False)
        assert reply.split()[0] in str(caught.value)
        sender.send(message(2))  # the same connection carries on after a refusal
        sender.close()
    assert [r.message["Subject"] for r in mailbox.received] == ["Message 2"]


def test_some_recipients_refused_still_counts_as_sent_and_all_refused_does_not() -> None:
    mailbox = Mailbox()
    mailbox.refuse_rcpt = {
        "gone@customer.example": "550 5.1.1 No such user",
        "full@customer.example": "452 4.2.2 Mailbox full",
    }
    with smtp_server(mailbox) as server:
        sender = smtp(server.port)
        sender.send(message(1, cc="gone@customer.example"))
        with pytest.raises(DeliveryError) as permanent:
            sender.send(message(2, to="gone@customer.example"))
        with pytest.raises(DeliveryError) as transient:
            sender.send(message(3, to="full@customer.example, gone@customer.example"))
        sender.close()
    assert [r.rcpt_tos for r in mailbox.received] == [["ana@customer.example"]]
    assert not permanent.value.transient
    assert transient.value.transient  # one of them may accept it later


def _self_signed(directory: Path) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl (Debian package openssl) is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=mail.accord.test",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


class Authenticator:
    def __init__(self) -> None:
        self.logins: list[tuple[str, bool]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        ok = auth_data.login == b"accord" and auth_data.password == b"s3cret"
        self.logins.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok, handled=False)  # handled=True would leave no reply


# aiosmtpd 1.4.6 itself sets its deprecated Session.login_data on every successful login.
@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")
def test_starttls_and_login_before_sending(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    authenticator = Authenticator()
    mailbox = Mailbox()
    with smtp_server(
        mailbox,
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    ) as server:
        trusted = client_context_trusting(cert)
        sender = smtp(
            server.port, starttls=True, username="accord", password="s3cret", ssl_context=trusted
        )
        sender.send(message())
        sender.close()
        wrong = smtp(
            server.port, starttls=True, username="accord", password="nope", ssl_context=trusted
        )
        with pytest.raises(DeliveryError) as refused_login:
            wrong.send(message(2))
        plain = smtp(server.port)  # no STARTTLS: the server refuses to go on
        with pytest.raises(DeliveryError) as refused_plain:
            plain.send(message(3))
        plain.close()
        wrong.close()
    assert len(mailbox.received) == 1
    assert authenticator.logins[0] == ("accord", True)
    assert set(authenticator.logins[1:]) == {("accord", False)}  # smtplib tries each mechanism
    assert "535" in str(refused_login.value)
    # Bad credentials and a server that insists on TLS are the operator's to fix: keep trying.
    assert (refused_login.value.transient, refused_login.value.connection) == (True, True)
    assert (refused_plain.value.transient, refused_plain.value.connection) == (True, True)
    assert "s3cret" not in repr(sender)
    assert "nope" not in str(refused_login.value)


@pytest.mark.parametrize(
    ("error", "transient", "connection"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True, True),
        (TimeoutError("timed out"), True, True),
        (smtplib.SMTPServerDisconnected("gone"), True, True),
        (smtplib.SMTPResponseException(421, b"closing"), True, True),
        (smtplib.SMTPSenderRefused(451, b"later", "a@b.c"), True, False),
        (smtplib.SMTPDataError(552, b"too big"), False, False),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), True, True),
        (
            smtplib.SMTPSenderRefused(530, b"Must issue a STARTTLS command first", "a@b.c"),
            True,
            True,
        ),
        (smtplib.SMTPConnectError(554, b"go away"), True, True),
        (smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"no such user")}), False, False),
    ],
)
def test_failures_are_classified(error: Exception, transient: bool, connection: bool) -> None:
    classified = smtp_error(error)
    assert (classified.transient, classified.connection) == (transient, connection)


# ---- files, console, memory, settings -------------------------------------------------------


def test_file_backend_writes_one_eml_per_message_and_a_resend_overwrites_it(
    tmp_path: Path,
) -> None:
    sender = FileSender(tmp_path / "mail")
    sender.send(message(1))
    sender.send(message(2))
    sender.send(message(1))
    files = sorted(p.name for p in (tmp_path / "mail").iterdir())
    assert files == ["outbox-1_accord.test.eml", "outbox-2_accord.test.eml"]
    raw = (tmp_path / "mail" / files[0]).read_bytes()
    assert b"Subject: Message 1\r\n" in raw
    assert b"multipart/alternative" in raw


def test_file_backend_failures_are_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(DeliveryError) as caught:
        FileSender(blocker / "mail").send(message())
    assert caught.value.transient


def test_console_backend_prints_the_message() -> None:
    out = io.StringIO()
    ConsoleSender(out).send(message(1, cc="bo@customer.example"))
    assert "mail to ana@customer.example, bo@customer.example" in out.getvalue()
    assert "Subject: Message 1" in out.getvalue()


def test_memory_backend_follows_its_script() -> None:
    sender = MemorySender([None, DeliveryError("451 later", transient=True)])
    sender.send(message(1))
    with pytest.raises(DeliveryError):
        sender.send(message(2))
    sender.send(message(3))
    assert [m["Subject"] for m in sender.sent] == ["Message 1", "Message 3"]


def test_the_backend_comes_from_settings(tmp_path: Path) -> None:
    assert isinstance(sender_from_settings(Settings()), FileSender)
    assert isinstance(sender_from_settings(Settings(mail_backend="console")), ConsoleSender)
    assert isinstance(sender_from_settings(Settings(mail_backend="memory")), MemorySender)
    chosen = sender_from_settings(
        Settings(
            mail_backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=2525,
            smtp_starttls=True,
            smtp_username="accord",
            smtp_password=SecretStr("s3cret"),
            mail_dir=tmp_path,
        )
    )
    assert isinstance(chosen, SmtpSender)
    assert (chosen.host, chosen.port, chosen.starttls, chosen.username) == (
        "127.0.0.1",
        2525,
        True,
        "accord",
    )
    assert "s3cret" not in repr(chosen)


def test_settings_refuse_a_lease_shorter_than_a_few_timeouts() -> None:
    with pytest.raises(ValueError, match="LEASE"):
        Settings(dispatch_lease_seconds=60, smtp_timeout_seconds=30)
