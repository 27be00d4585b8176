"""`accord jobs run-once --now ...` shows reminders and escalations on schedule (both databases)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from sqlmodel import Session
from typer.testing import CliRunner, Result

from api.cli import app
from api.cli.jobs import parse_now
from states import Role
from tests.helpers import C, World, make_world
from workflow.settings import get_settings

runner = CliRunner()


def accord() -> typer.Typer:
    """The `accord` root, which mounts the jobs group and the scheduler command."""
    return app


def invoke(database_url: str, *args: str) -> Result:
    return runner.invoke(accord(), ["--database-url", database_url, *args])


@pytest.fixture
def world(session: Session) -> World:
    world = make_world(session)
    # Review tasks opened Monday 2 November 2026, due Monday 9 November.
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    return world


@pytest.fixture(autouse=True)
def mailbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The file mail backend writing into the test's own folder."""
    monkeypatch.setenv("ACCORD_MAIL_BACKEND", "file")
    monkeypatch.setenv("ACCORD_MAIL_DIR", str(tmp_path / "mail"))
    get_settings.cache_clear()
    yield tmp_path / "mail"
    get_settings.cache_clear()


def test_run_once_prints_what_each_job_did(world: World, database_url: str, mailbox: Path) -> None:
    result = invoke(database_url, "jobs", "run-once", "--now", "2026-11-13T08:00")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert lines[0] == "jobs at 2026-11-13T13:00:00Z (2026-11-13 in America/New_York)"
    assert lines[1] == (
        "calendar: 0 active versions checked on 2026-11-13: 0 expired, 0 renewal reminders, "
        "0 annual reviews, 0 renewal decisions, 0 service reviews opened"
    )
    assert lines[2] == "periods: 0 reporting agreements checked on 2026-11-13: 0 periods opened"
    assert lines[3] == (
        "sweep: 2 open tasks swept on 2026-11-13: 2 reminders, 2 escalations sent (0 already sent)"
    )
    # Friday 13: the Program Managers hear of it (3 business days overdue, Veterans Day skipped),
    # and the newest reminder is overdue:2 of Thursday 12.
    assert sorted(lines[4:8]) == sorted(
        f"  {what} for task {task} (SLA-2026-0001), due 2026-11-09"
        for task in (1, 2)
        for what in ("reminder overdue:2", "escalation to program_manager")
    )
    assert lines[8] == "digest: 0 digests queued with 0 items"
    # 2 task.assigned and review.requested rows from the fixture, then the 4 sweep rows.
    assert lines[9].startswith("dispatch: 7 messages claimed: 7 sent as ")
    assert lines[10].startswith("audit-checkpoint: checkpoint ")
    assert lines[11] == "housekeeping: 0 idempotency keys older than 24 h forgotten"
    assert len(lines) == 12
    assert len(list(mailbox.glob("*.eml"))) == int(lines[9].split(" sent as ")[1].split()[0])


def test_run_once_twice_sends_nothing_new(world: World, database_url: str) -> None:
    invoke(database_url, "jobs", "run-once", "--now", "2026-11-09T09:00-05:00")
    again = invoke(database_url, "jobs", "run-once", "--now", "2026-11-09T14:00:00Z")
    assert again.exit_code == 0, again.stderr
    # The first run stored each task's next step (a later day): the second reads no task.
    assert (
        "sweep: 0 open tasks swept on 2026-11-09: 0 reminders, 0 escalations sent "
        "(0 already sent)" in again.stdout
    )
    assert "audit-checkpoint: no chain moved since the last checkpoint" in again.stdout


def test_a_bad_time_is_refused_in_one_line(world: World, database_url: str) -> None:
    result = invoke(database_url, "jobs", "run-once", "--now", "next tuesday")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert "'next tuesday' is not an ISO-8601 date or time" in line


def test_times_without_an_offset_are_new_york_time() -> None:
    assert parse_now("2026-11-09") == datetime(2026, 11, 9, 5, 0, tzinfo=UTC)  # EST
    assert parse_now("2026-07-01T09:30") == datetime(2026, 7, 1, 13, 30, tzinfo=UTC)  # EDT
    assert parse_now("2026-11-09T09:00Z") == datetime(2026, 11, 9, 9, 0, tzinfo=UTC)


def test_the_commands_have_help() -> None:
    for args in (["jobs", "--help"], ["jobs", "run-once", "--help"], ["scheduler", "--help"]):
        result = runner.invoke(accord(), args)
        assert result.exit_code == 0, result.output
    assert "--now" in runner.invoke(accord(), ["jobs", "run-once", "--help"]).stdout
