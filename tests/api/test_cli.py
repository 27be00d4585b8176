"""The `accord` command line, on both databases: each command's happy path and a refusal.

Every invocation passes `--database-url` explicitly, so no test depends on (or leaves behind)
ACCORD_DATABASE_URL or the cached settings.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
import yaml
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

from api.cli import app
from api.cli import serve as serve_command
from states import LIFECYCLE, Role
from states.diagram import mermaid
from tests.helpers import C, World, make_world
from workflow.audit import drop_append_only_guards
from workflow.commands.admin import hash_token
from workflow.db import make_engine
from workflow.models import (
    Agreement,
    AgreementVersion,
    ApiToken,
    CorrectiveAction,
    Measurement,
    Organization,
    OutboxMessage,
    PeriodException,
    Proposal,
    ReportingPeriod,
    ServiceReview,
    Task,
    User,
)
from workflow.passwords import verify_password
from workflow.schema import is_current

runner = CliRunner()


class Cli:
    """Runs `accord --database-url URL ...` in-process."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def __call__(self, *args: str) -> Result:
        return runner.invoke(app, ["--database-url", self.database_url, *args])

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result

    def refused(self, *args: str, says: str, code: int = 1) -> str:
        """The command exits `code` with exactly one `error:` line on stderr."""
        result = self(*args)
        assert result.exit_code == code, (result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
        assert says in lines[0], lines[0]
        assert "Traceback" not in result.output
        return lines[0]


@pytest.fixture
def run(database_url: str) -> Cli:
    return Cli(database_url)


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def _rows(database_url: str, stmt: Any) -> list[Any]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        rows = list(session.exec(stmt).all())
    engine.dispose()
    return rows


# ---- help and usage ------------------------------------------------------------------------

COMMANDS = [
    [],
    ["serve"],
    ["db"],
    ["db", "upgrade"],
    ["db", "copy"],
    ["db", "backup"],
    ["db", "restore"],
    ["org", "create"],
    ["user", "create"],
    ["user", "set-password"],
    ["user", "list"],
    ["user", "role"],
    ["user", "invite"],
    ["token", "create"],
    ["token", "revoke"],
    ["token", "list"],
    ["demo"],
    ["audit", "verify"],
    ["audit", "checkpoint"],
    ["diagram"],
    ["version", "export"],
    ["version", "import"],
    ["notifications", "preferences"],
]


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "accord")
def test_every_command_has_help(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_bad_arguments_are_one_line_with_exit_2() -> None:
    run = Cli("sqlite://")
    run.refused("org", "create", says="Missing argument", code=2)
    run.refused("frobnicate", says="No such command 'frobnicate'", code=2)
    run.refused("token", "revoke", "seven", says="Invalid value", code=2)


# ---- serve and db upgrade ------------------------------------------------------------------


def test_serve_upgrades_sqlite_then_runs_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    Cli(url).ok("serve", "--host", "0.0.0.0", "--port", "8123")
    assert [(c["host"], c["port"]) for c in calls] == [("0.0.0.0", 8123)]
    assert calls[0]["app"].title == "Accord"
    engine = make_engine(url)
    assert is_current(engine)
    engine.dispose()


def test_serve_runs_on_the_current_schema(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw["port"]))
    # Whether 8000 is free on this machine is not what this test is about.
    monkeypatch.setattr(serve_command, "refuse_a_taken_port", lambda host, port: None)
    run.ok("serve")
    assert calls == [8000]
    run.refused("serve", "--port", "70000", says="Invalid value for '--port'", code=2)


def test_the_demo_password_cannot_be_shown_before_a_demo(
    run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run.refused(
        "demo", "--show-password", says="no demo password in var: run `accord demo`", code=2
    )


def test_serve_on_a_taken_port_says_so_in_one_line(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw["port"]))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run.refused(
            "serve",
            "--port",
            str(port),
            says=f"port {port} on 127.0.0.1 is already in use (another Accord?): choose another "
            f"with --port {port + 1} (make run PORT={port + 1})",
            code=2,
        )
    assert calls == []


def test_db_upgrade_is_idempotent_and_reports_the_revision(run: Cli, tmp_path: Path) -> None:
    assert "is at schema revision" in run.ok("db", "upgrade").stdout
    fresh = Cli(f"sqlite:///{tmp_path / 'new.db'}")
    fresh.refused("org", "create", "X", says="not current; run `accord db upgrade`")
    fresh.ok("db", "upgrade")
    fresh.ok("org", "create", "X")


def test_an_unreachable_database_is_one_line() -> None:
    Cli("postgresql://nobody@127.0.0.1:1/nothing").refused(
        "db", "upgrade", says="database error: connection failed"
    )


# ---- administration ------------------------------------------------------------------------


def test_org_create(run: Cli) -> None:
    out = run.ok("org", "create", "Third Agency", "--holiday-calendar", "CA").stdout
    assert re.fullmatch(r"organisation \d+: Third Agency \(holidays: CA\)\n", out)
    run.refused("org", "create", "Third Agency", says="'Third Agency' already exists")


def test_org_create_refuses_an_unknown_calendar(run: Cli) -> None:
    run.refused("org", "create", "Fourth", "--holiday-calendar", "XX", says="holiday")


def test_user_create_by_org_name_or_id(run: Cli) -> None:
    run.ok("org", "create", "Third Agency")
    org_id = _rows(run.database_url, select(Organization.id))[0]
    out = run.ok(
        "user", "create", "Kim@Third.example", "--name", "Kim Lee", "--org", "Third Agency"
    )
    assert "kim@third.example (Kim Lee, Third Agency)" in out.stdout
    run.ok("user", "create", "ops@third.example", "--name", "Ops", "--org", str(org_id), "--admin")
    users = _rows(run.database_url, select(User).order_by(col(User.id)))
    assert [(u.email, u.is_admin) for u in users] == [
        ("kim@third.example", False),
        ("ops@third.example", True),
    ]


def test_user_create_refuses_an_unknown_org_and_a_bad_email(run: Cli) -> None:
    run.refused(
        "user", "create", "a@b.example", "--name", "A", "--org", "Nowhere",
        says="no organisation named or numbered 'Nowhere'",
    )  # fmt: skip
    run.ok("org", "create", "Third Agency")
    run.refused(
        "user", "create", "not-an-email", "--name", "A", "--org", "Third Agency",
        says="invalid user (email: not an email address)",
    )  # fmt: skip


def test_token_create_prints_only_the_token(run: Cli) -> None:
    run.ok("org", "create", "Third Agency")
    run.ok("user", "create", "kim@third.example", "--name", "Kim", "--org", "Third Agency")
    result = run.ok("token", "create", "kim@third.example", "--name", "laptop")
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert re.fullmatch(r"acc_[A-Za-z0-9_-]{43}", token)
    stored = _rows(run.database_url, select(ApiToken))
    assert [(t.token_hash, t.name) for t in stored] == [(hash_token(token), "laptop")]
    run.refused("token", "create", "nobody@third.example", says="no user with email")


def test_token_revoke(run: Cli) -> None:
    run.ok("org", "create", "Third Agency")
    run.ok("user", "create", "kim@third.example", "--name", "Kim", "--org", "Third Agency")
    run.ok("token", "create", "kim@third.example")
    token_id = _rows(run.database_url, select(ApiToken.id))[0]
    out = run.ok("token", "revoke", str(token_id)).stdout
    assert f"token {token_id} (acc_" in out
    assert "of kim@third.example revoked at" in out
    assert _rows(run.database_url, select(ApiToken.revoked_at))[0] is not None
    run.refused("token", "revoke", "999", says="no such token")


def test_user_list_roles_and_invitations(run: Cli) -> None:
    run.ok("org", "create", "Third Agency")
    run.ok("user", "create", "kim@third.example", "--name", "Kim Lee", "--org", "Third Agency")
    invited = run.ok(
        "user", "create", "ivy@third.example", "--name", "Ivy", "--org", "Third Agency",
        "--role", "global_auditor", "--invite",
    ).stdout  # fmt: skip
    assert "global auditor); invitation queued" in invited
    run.ok("user", "role", "kim@third.example", "auditor")
    run.refused("user", "role", "kim@third.example", "boss", says="unknown role")
    run.ok("user", "invite", "kim@third.example")
    lines = run.ok("user", "list").stdout.splitlines()
    assert [line.split("\t")[1:] for line in lines] == [
        ["kim@third.example", "Kim Lee", "Third Agency", "auditor, no password"],
        ["ivy@third.example", "Ivy", "Third Agency", "global_auditor, no password"],
    ]
    topics = _rows(run.database_url, select(OutboxMessage.topic).order_by(col(OutboxMessage.id)))
    assert topics == ["account.invitation", "account.invitation"]


def test_token_list_shows_expiry_and_last_use_never_the_token(run: Cli) -> None:
    run.ok("org", "create", "Third Agency")
    run.ok("user", "create", "kim@third.example", "--name", "Kim", "--org", "Third Agency")
    plain = run.ok(
        "token", "create", "kim@third.example", "--name", "ci", "--expires", "2099-01-31"
    ).stdout.strip()
    run.refused(
        "token", "create", "kim@third.example", "--expires", "2001-01-01", says="in the past"
    )
    (line,) = run.ok("token", "list").stdout.splitlines()
    assert plain not in line
    assert line.split("\t")[1:] == [
        f"{plain[:10]}…",
        "kim@third.example",
        "ci",
        "active",
        "expires 2099-01-31 00:00 UTC",
        "last used never",
    ]


# ---- passwords -----------------------------------------------------------------------------


def test_set_password_reads_one_line_from_stdin(run: Cli, world: World) -> None:
    email = world.who(C, Role.BUSINESS_OWNER).email
    result = runner.invoke(
        app,
        ["--database-url", run.database_url, "user", "set-password", email],
        input="a long enough secret\nsecond line ignored\n",
    )
    assert result.exit_code == 0, result.output
    assert f"password set for {email}" in result.stdout
    (stored,) = _rows(run.database_url, select(User.password_hash).where(User.email == email))
    assert verify_password(stored, "a long enough secret")
    assert "long enough secret" not in result.output


@pytest.mark.parametrize(
    ("stdin", "says"),
    [("", "no password on standard input"), ("short\n", "at least 10 characters")],
)
def test_set_password_refuses_empty_or_short(run: Cli, world: World, stdin: str, says: str) -> None:
    email = world.who(C, Role.BUSINESS_OWNER).email
    result = runner.invoke(
        app, ["--database-url", run.database_url, "user", "set-password", email], input=stdin
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert says in result.stderr
    assert _rows(run.database_url, select(User.password_hash).where(User.email == email)) == [None]


def test_set_password_for_an_unknown_email_is_refused(run: Cli) -> None:
    result = runner.invoke(
        app,
        ["--database-url", run.database_url, "user", "set-password", "nobody@example.org"],
        input="a long enough secret\n",
    )
    assert result.exit_code == 1
    assert "error: no user with email nobody@example.org" in result.stderr


# ---- demo ----------------------------------------------------------------------------------


def test_demo_loads_agreements_in_every_working_state(
    run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default tokens file is ./var/demo-tokens.txt
    out = run.ok("demo").stdout
    assert "20 users; their API tokens are in var/demo-tokens.txt" in out
    versions = _rows(
        run.database_url,
        select(Agreement.key, AgreementVersion.number, AgreementVersion.state)
        .join(AgreementVersion, col(AgreementVersion.agreement_id) == col(Agreement.id))
        .order_by(col(Agreement.key), col(AgreementVersion.number)),
    )
    states: dict[str, list[str]] = {}
    for key, _number, state in versions:
        states.setdefault(key, []).append(state)
    assert sorted(states.values()) == [
        ["active"],  # the corrective action plan in progress (api/demo_corrective.py)
        ["active", "draft"],
        ["approval"],
        ["draft"],
        ["gap_analysis"],
        ["joint_review"],
    ]
    lines = (tmp_path / "var" / "demo-tokens.txt").read_text().splitlines()
    assert len(lines) == 20
    email, _token, rest = lines[1].split(" ", 2)
    assert (email, rest) == (
        "marcus.chen@customer.example",
        "Marcus Chen (customer business_owner)",
    )
    assert lines[-1].split(" ", 2)[2] == "Ada Admin (administrator)"
    hashes = set(_rows(run.database_url, select(ApiToken.token_hash)))
    assert {hash_token(line.split(" ")[1]) for line in lines} <= hashes
    assert (tmp_path / "var" / "demo-tokens.txt").stat().st_mode & 0o077 == 0
    assert "audit trail intact" in run.ok("audit", "verify").stdout
    signin = re.search(r"Sign in at (\S+) as any of them .* with the password: (\S+)", out)
    assert signin is not None, out
    assert signin[1] == "http://127.0.0.1:8000/signin"
    stored = _rows(run.database_url, select(User.email, User.password_hash))
    assert len(stored) == 20
    assert all(verify_password(h, signin[2]) for _, h in stored)
    # The password can be printed again, and is kept as privately as the tokens.
    assert run.ok("demo", "--show-password").stdout.strip() == signin[2]
    assert (tmp_path / "var" / "demo-password.txt").stat().st_mode & 0o077 == 0
    # The active agreement has a past: measurements and a submitted reporting period.
    period = re.search(r"its reporting period (\d{4}-\d{2}) was submitted", out)
    assert period is not None, out
    periods = _rows(run.database_url, select(ReportingPeriod.period, ReportingPeriod.state))
    assert (period[1], "submitted") in periods
    # A proposal waits for the other side: the provider's excusal, for the customer to decide.
    waiting = _rows(
        run.database_url, select(Proposal.kind, Proposal.state, Proposal.counterpart_side)
    )
    assert waiting == [("excusal", "open", "customer")]
    assert "it waits for the customer Program Manager" in out
    [main] = _rows(
        run.database_url,
        select(ReportingPeriod.agreement_id).where(
            ReportingPeriod.period == period[1], ReportingPeriod.state == "submitted"
        ),
    )
    readings = _rows(
        run.database_url,
        select(Measurement.metric_key, Measurement.observed_at).where(
            Measurement.agreement_id == main
        ),
    )
    days = {observed_at.date() for _, observed_at in readings}
    assert len(days) >= 50  # about eight weeks, daily (the first day may be cut at 1 October)
    assert len(readings) == 15 * len(days)  # every metric, every day
    # A corrective action plan is in progress: submitted by the provider, accepted by the
    # customer, its actions due after today.
    [(metric, actions, side)] = _rows(
        run.database_url,
        select(CorrectiveAction.metric_key, CorrectiveAction.actions, CorrectiveAction.side).where(
            CorrectiveAction.state == "in_progress"
        ),
    )
    assert (metric, side, len(actions)) == ("invoice-payment-timeliness", "provider", 3)
    # Its report was accepted with an exception on that metric.
    exceptions = _rows(run.database_url, select(PeriodException.metric_key))
    assert exceptions == ["invoice-payment-timeliness"]
    # A service review was held: minutes on record, its action items open for their owners.
    held = re.search(r"service review of (\d{4}-Q\d) was held", out)
    assert held is not None, out
    reviews = _rows(run.database_url, select(ServiceReview.quarter, ServiceReview.state))
    assert reviews == [(held[1], "held")]
    items = _rows(run.database_url, select(Task.state).where(Task.kind == "action_item"))
    assert items == ["open", "open"]


def test_demo_if_empty_does_nothing_on_a_loaded_database(run: Cli, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    run.ok("demo", "--tokens-file", str(tokens), "--if-empty")
    first = tokens.read_text()
    again = run.ok("demo", "--tokens-file", str(tokens), "--if-empty")
    assert "already has organisations; demo not loaded" in again.stdout
    assert tokens.read_text() == first
    assert len(_rows(run.database_url, select(Agreement.id))) == 6
    run.refused(
        "demo", "--tokens-file", str(tokens),
        says="an organisation named 'Department of Examples' already exists",
    )  # fmt: skip


# ---- audit ---------------------------------------------------------------------------------


def _tamper(database_url: str) -> int:
    """Edit one event behind the application's back; returns its id."""
    engine = make_engine(database_url)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Triggers off for this transaction only: the test database outlives the test.
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            drop_append_only_guards(conn)  # this test's own copy of the database
        event_id: int = conn.execute(
            sa.text("SELECT id FROM audit_event WHERE chain = 'agreement:1' AND seq = 2")
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE audit_event SET action = 'version.tampered' WHERE id = :id"),
            {"id": event_id},
        )
    engine.dispose()
    return event_id


def test_audit_verify_is_0_on_an_empty_database(run: Cli) -> None:
    out = run.ok("audit", "verify").stdout
    assert out == "audit trail intact: 0 events in 0 agreement chains and the system chain\n"


def test_audit_verify_is_0_on_a_clean_database_and_1_naming_the_first_bad_event(
    run: Cli, world: World
) -> None:
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    world.session.close()
    out = run.ok("audit", "verify").stdout
    assert re.search(r"intact: \d+ events in 1 agreement chains", out)
    event_id = _tamper(run.database_url)
    line = run.refused("audit", "verify", says="audit trail broken at chain agreement:1, seq 2")
    assert f"(event id {event_id})" in line


def test_audit_checkpoint_records_the_chain_heads(run: Cli, world: World) -> None:
    world.create()
    world.create()
    world.session.close()
    out = run.ok("audit", "checkpoint").stdout
    assert re.fullmatch(r"checkpoint \d+ of the system chain records 2 chain heads\n", out)
    run.ok("audit", "verify")


def test_audit_commands_refuse_a_database_without_the_schema(tmp_path: Path) -> None:
    empty = Cli(f"sqlite:///{tmp_path / 'empty.db'}")
    empty.refused("audit", "checkpoint", says="not current; run `accord db upgrade`")
    empty.refused("audit", "verify", says="not current")


# ---- diagram and YAML ----------------------------------------------------------------------


def test_diagram_prints_the_lifecycle_in_mermaid() -> None:
    result = runner.invoke(app, ["diagram"])
    assert result.exit_code == 0
    assert result.stdout == mermaid(LIFECYCLE)
    assert result.stdout.startswith("stateDiagram-v2\n    [*] --> draft\n")
    highlighted = runner.invoke(app, ["diagram", "--highlight", "approval"]).stdout
    assert "class approval current" in highlighted
    Cli("sqlite://").refused("diagram", "--highlight", "limbo", says="no state 'limbo'")


def test_version_export_to_stdout_and_to_a_file(run: Cli, world: World, tmp_path: Path) -> None:
    agreement = world.create()
    world.session.close()
    text = run.ok("version", "export", agreement.key, "1").stdout
    document = yaml.safe_load(text)
    assert (document["agreement"], document["state"]) == (agreement.key, "draft")
    target = tmp_path / "v1.yaml"
    out = run.ok("version", "export", agreement.key, "1", "-o", str(target)).stdout
    assert out == f"wrote {agreement.key} version 1 (draft) to {target}\n"
    assert target.read_text() == text
    run.refused("version", "export", "SLA-1999-0001", "1", says="no agreement 'SLA-1999-0001'")
    run.refused("version", "export", agreement.key, "9", says=f"{agreement.key} has no version 9")


def test_version_import_as_a_user(run: Cli, world: World, tmp_path: Path) -> None:
    from workflow.content import Content

    source = world.create().key
    target = world.create(content=Content(), title="An empty draft").key
    world.session.close()
    document = tmp_path / "source.yaml"
    run.ok("version", "export", source, "1", "-o", str(document))
    out = run.ok(
        "version", "import", target, "1", str(document), "--as", "sam.okafor@customer.example"
    ).stdout
    assert f"into {target} version 1: " in out
    hashes = _rows(
        run.database_url,
        select(AgreementVersion.content_hash).order_by(col(AgreementVersion.agreement_id)),
    )
    assert hashes[0] == hashes[1]
    run.refused(
        "version", "import", target, "1", str(document), "--as", "sam.okafor@customer.example",
        "--lock-version", "1",
        says="changed since you read it",
    )  # fmt: skip
    run.refused(
        "version", "import", target, "1", str(document), "--as", "nobody@customer.example",
        says="no user with email 'nobody@customer.example'",
    )  # fmt: skip


def test_version_import_refuses_a_version_that_is_not_a_draft(
    run: Cli, world: World, tmp_path: Path
) -> None:
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    world.session.close()
    document = tmp_path / "v1.yaml"
    run.ok("version", "export", agreement.key, "1", "-o", str(document))
    run.refused(
        "version", "import", agreement.key, "1", str(document),
        "--as", "priya.raman@customer.example",
        says="version 1 is joint_review; only a draft can be edited",
    )  # fmt: skip
    document.write_text("terms: [unclosed\n")
    run.refused(
        "version", "import", agreement.key, "1", str(document),
        "--as", "priya.raman@customer.example",
        says="not valid YAML",
    )  # fmt: skip


def test_notification_preferences_are_shown_and_set_per_group(run: Cli, world: World) -> None:
    owner = world.who(C, Role.BUSINESS_OWNER)
    shown = run.ok("notifications", "preferences", owner.email).stdout.splitlines()
    assert [line.split()[0] for line in shown] == ["tasks", "decisions", "reports", "governance"]
    assert all("default (" in line for line in shown)

    run.ok("notifications", "preferences", owner.email, "decisions=off", "reports=digest")
    chosen = {
        line.split()[0]: line.split()[1:3]
        for line in run.ok("notifications", "preferences", owner.email).stdout.splitlines()
    }
    assert chosen["decisions"] == ["off", "off"]
    assert chosen["reports"] == ["digest", "digest"]
    assert chosen["tasks"][1].startswith("default")


def test_notification_preferences_refuse_bad_choices_and_keep_the_old_ones(
    run: Cli, world: World
) -> None:
    owner = world.who(C, Role.BUSINESS_OWNER)
    run.refused("notifications", "preferences", owner.email, "tasks=off", says="tasks")
    run.refused("notifications", "preferences", owner.email, "decisions", says="GROUP=CHOICE")
    run.refused(
        "notifications", "preferences", owner.email, "decisions=off", "bells=off", says="bells"
    )
    shown = run.ok("notifications", "preferences", owner.email).stdout
    assert "off" not in shown.split()  # nothing half-written by the refused command
