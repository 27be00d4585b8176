"""`accord db copy | backup | restore`: an installation moves to another database with every
row and a verifying audit chain, serves the same answers there, and comes back from a backup
taken while others were writing."""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlmodel import Session

from api.app import create_app
from tests.api.pages.conftest import CSRF_FIELD
from tests.api.test_cli import Cli
from tests.conftest import POSTGRES_ENV
from workflow import commands, transfer
from workflow.db import make_engine, normalise_url

PASSWORD_LINE = re.compile(r"with the password: (\S+)")


def _demo(tmp_path: Path) -> tuple[str, str, dict[str, str]]:
    """A demo installation in a SQLite file: its URL, the password and each user's token."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    tokens_file = tmp_path / "tokens.txt"
    out = Cli(url).ok("demo", "--tokens-file", str(tokens_file)).stdout
    password = PASSWORD_LINE.search(out)
    assert password is not None
    tokens = dict(line.split()[:2] for line in tokens_file.read_text().splitlines())
    return url, password[1], tokens


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return transfer.row_counts(connection)
    finally:
        engine.dispose()


def _api_answers(url: str, token: str) -> dict[str, object]:
    """What a client reads: the agreements, each agreement and its audit trail."""
    engine = make_engine(url)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(create_app(engine)) as client:
            listing = client.get("/api/v1/slas", headers=headers).json()
            answers: dict[str, object] = {"list": listing}
            for item in listing["items"]:
                sla = f"/api/v1/slas/{item['id']}"
                answers[sla] = client.get(sla, headers=headers).json()
                answers[f"{sla}/audit"] = client.get(f"{sla}/audit", headers=headers).json()
            return answers
    finally:
        engine.dispose()


def test_copy_moves_the_demo_with_every_row_and_a_verifying_chain(
    tmp_path: Path, database_url: str
) -> None:
    source, password, tokens = _demo(tmp_path)
    result = Cli(source).ok("db", "copy", "--to", database_url)
    assert "audit trail intact on" in result.stdout
    counts = _counts(database_url)
    assert counts == _counts(source)
    assert counts["audit_event"] > 100
    assert counts["measurement"] > 0
    reader = tokens["marcus.chen@customer.example"]
    assert _api_answers(database_url, reader) == _api_answers(source, reader)
    engine = make_engine(database_url)
    try:
        with TestClient(create_app(engine), base_url="http://127.0.0.1") as browser:
            csrf = CSRF_FIELD.search(browser.get("/signin").text)
            assert csrf is not None
            signed = browser.post(
                "/signin",
                data={
                    "email": "marcus.chen@customer.example",
                    "password": password,
                    "csrf_token": csrf[1],
                },
            )
            assert signed.status_code == 200
            page = browser.get("/slas")
            assert page.status_code == 200
            assert "SLA-2026-0001" in page.text
        # New rows get new ids: the sequences moved past the copied ones.
        with engine.begin() as connection:
            before = connection.execute(sa.text("SELECT max(id) FROM organization")).scalar_one()
        assert _new_organization(database_url) > before
    finally:
        engine.dispose()


def _new_organization(url: str) -> int:
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            org = commands.create_organization(
                session, actor=None, name="After the move", now=datetime.now(UTC)
            )
    finally:
        engine.dispose()
    assert org.id is not None
    return org.id


def test_copy_refuses_a_target_that_holds_data(tmp_path: Path, database_url: str) -> None:
    source, _, _ = _demo(tmp_path)
    Cli(source).ok("db", "copy", "--to", database_url)
    before = _counts(database_url)
    Cli(source).refused("db", "copy", "--to", database_url, says="is not empty")
    assert _counts(database_url) == before


def _write_load(url: str, stop: threading.Event) -> list[str]:
    """Organisations created one command after another until stopped (each audited)."""
    made: list[str] = []
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            for n in range(10_000):  # bounded; the backup ends it long before
                if stop.is_set():
                    break
                name = f"Load {n}"
                commands.create_organization(session, actor=None, name=name, now=datetime.now(UTC))
                made.append(name)
    finally:
        engine.dispose()
    return made


def test_a_backup_taken_under_write_load_restores_to_a_verifying_database(
    tmp_path: Path, database_url: str
) -> None:
    source, _, _ = _demo(tmp_path)
    stop = threading.Event()
    made: list[list[str]] = []
    writer = threading.Thread(target=lambda: made.append(_write_load(source, stop)))
    writer.start()
    try:
        threading.Event().wait(0.3)  # the writer is going
        backup = tmp_path / "backup.db"
        Cli(source).ok("db", "backup", str(backup))
        threading.Event().wait(0.2)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert made[0], "the writer never wrote"
    in_backup = _counts(f"sqlite:///{backup}")
    assert in_backup["organization"] < _counts(source)["organization"]  # taken mid-load
    result = Cli(database_url).ok("db", "restore", str(backup))
    assert "audit trail intact on" in result.stdout
    assert _counts(database_url) == in_backup
    Cli(source).refused("db", "backup", str(backup), says="exists")
    Cli(database_url).refused("db", "restore", str(backup), says="is not empty")


def test_restore_refuses_a_file_that_is_no_backup(tmp_path: Path, database_url: str) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n")
    Cli(database_url).refused("db", "restore", str(junk), says="neither a SQLite backup")


@pytest.fixture
def empty_postgres() -> Iterator[Callable[[], str]]:
    """Makes new PostgreSQL databases with no tables at all, dropped afterwards."""
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        pytest.skip(f"PostgreSQL tests skipped: set {POSTGRES_ENV} to run them")
    admin = sa.create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"accord_restore_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        made.append(name)
        return make_url(normalise_url(admin_url)).set(database=name).render_as_string(False)

    yield make
    with admin.connect() as connection:
        for name in made:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def test_postgresql_backs_up_with_pg_dump_and_restores_with_pg_restore(
    tmp_path: Path, empty_postgres: Callable[[], str]
) -> None:
    source, _, _ = _demo(tmp_path)
    live, restored = empty_postgres(), empty_postgres()
    Cli(source).ok("db", "copy", "--to", live)
    archive = tmp_path / "accord.dump"
    assert "with pg_dump" in Cli(live).ok("db", "backup", str(archive)).stdout
    result = Cli(restored).ok("db", "restore", str(archive))
    assert "audit trail intact on" in result.stdout
    assert _counts(restored) == _counts(live)
    # The restored database takes commands, its sequences past the restored ids.
    assert _new_organization(restored) > _counts(live)["organization"]
    Cli(restored).refused("db", "restore", str(archive), says="is not empty")
