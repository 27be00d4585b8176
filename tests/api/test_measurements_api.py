"""The measurement endpoints and `accord measurements import`, on both databases."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from api.app import create_app
from api.cli.measurements import measurements_app
from api.limits import BodySizeLimit
from states import Role
from tests.api.conftest import Api
from tests.api.flows import outsider
from tests.helpers import C, P
from tests.workflow.commands.test_periods import NOVEMBER
from tests.workflow.test_compliance_sql import store
from workflow.commands.measurements import CHUNK_ROWS
from workflow.errors import InvalidInput
from workflow.models import (
    Agreement,
    AuditEvent,
    Measurement,
    MeasurementBatch,
    MeasurementCorrection,
)
from workflow.settings import get_settings

M = "payroll-accuracy"
CSV = (
    "metric,observed_at,value\n"
    f"{M},2026-10-05T10:00:00Z,99.5\n"
    "nope,2026-10-05T10:00:00Z,1\n"
    f"{M},2026-10-06T10:00:00Z,NaN\n"
    f"{M},2026-10-07T10:00:00-04:00,98\n"
)


def _agreement(api: Api) -> Agreement:
    return api.world.create()


def _url(agreement: Agreement, csv: bool = False) -> str:
    return f"/api/v1/slas/{agreement.id}/measurements" + (":csv" if csv else "")


def test_json_batch(api: Api) -> None:
    agreement = _agreement(api)
    body = {
        "observations": [
            {"metric": M, "observed_at": "2026-10-05T10:00:00Z", "value": 99.5, "weight": 3},
            {"metric": M, "observed_at": "2026-10-05T10:00:00", "value": 1},
            {"metric": M, "observed_at": "2026-10-06T10:00:00Z", "value": True},
            "not an object",
        ]
    }
    response = api.client.post(_url(agreement), json=body, headers=api.auth(P, Role.PMO_TEAM))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (1, 0, 3)
    assert [e["line"] for e in answer["errors"]] == [1, 2, 3]
    assert answer["errors"][1]["reason"] == "value must be a number, not true"
    assert answer["more_errors"] == 0
    again = api.client.post(_url(agreement), json=body, headers=api.auth(P, Role.PMO_TEAM))
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 1)


def _chunks(text: str, size: int = 7) -> Iterator[bytes]:
    data = text.encode()
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_csv_upload_streams_and_reports_lines(api: Api) -> None:
    agreement = _agreement(api)
    response = api.client.post(
        _url(agreement, csv=True),
        content=_chunks(CSV),
        headers={**api.auth(C, Role.TECHNICAL_LEAD), "Content-Type": "text/csv"},
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["rejected"], answer["complete"]) == (2, 2, True)
    assert [(e["line"], e.get("metric")) for e in answer["errors"]] == [(3, "nope"), (4, M)]


def test_csv_refusals(api: Api) -> None:
    agreement = _agreement(api)
    url = _url(agreement, csv=True)
    bad_header = api.client.post(url, content=b"a,b\n", headers=api.auth(P, Role.PMO_TEAM))
    assert bad_header.status_code == 422
    assert bad_header.headers["content-type"] == "application/problem+json"
    wrong_type = api.client.post(
        url, content=CSV, headers={**api.auth(P, Role.PMO_TEAM), "Content-Type": "image/png"}
    )
    assert wrong_type.status_code == 415
    assert (
        api.client.post(url, content=CSV, headers=api.auth(C, Role.BUSINESS_OWNER)).status_code
        == 403
    )
    stranger = outsider(api)
    assert api.client.post(url, content=CSV, headers=stranger).status_code == 404
    as_json = api.client.post(_url(agreement), json={"observations": []}, headers=stranger)
    assert as_json.status_code == 404


def test_uploads_have_their_own_size_limit(api: Api) -> None:
    limit = BodySizeLimit(lambda *_: None, max_bytes=1024, upload_max_bytes=4096)  # type: ignore[arg-type]
    assert limit.limit_for("/api/v1/slas/1/measurements:csv") == 4096
    assert limit.limit_for("/api/v1/slas/1/measurements") == 1024
    big = "metric,observed_at,value\n" + f"{M},2026-10-05T10:00:00Z,1\n" * 40_000  # ~1.3 MB
    agreement = _agreement(api)
    accepted = api.client.post(
        _url(agreement, csv=True), content=big, headers=api.auth(P, Role.PMO_TEAM)
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["duplicates"] == 39_999
    as_json = api.client.post(
        _url(agreement), content=big.encode(), headers=api.auth(P, Role.PMO_TEAM)
    )
    assert as_json.status_code == 413


UPLOAD_LIMIT = 384 * 1024


@pytest.fixture
def small_uploads(
    api: Api, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The app again, with ACCORD_MAX_UPLOAD_BYTES at `UPLOAD_LIMIT`."""
    monkeypatch.setenv("ACCORD_MAX_UPLOAD_BYTES", str(UPLOAD_LIMIT))
    get_settings.cache_clear()
    try:
        with TestClient(create_app(engine, clock=lambda: api.clock[0])) as client:
            yield client
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def _stream(app: Any, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    """POST `body` to the ASGI app in 16 KiB messages, as a server receives a chunked upload
    (the TestClient hands the app a generator's whole body in one message)."""
    size = 16 * 1024
    messages = iter(
        [
            {"type": "http.request", "body": body[i : i + size], "more_body": i + size < len(body)}
            for i in range(0, len(body), size)
        ]
    )
    sent: list[Any] = []

    async def receive() -> Any:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    # In a thread of its own: a loop some other test left running here must not matter.
    runner = threading.Thread(target=anyio.run, args=(app, scope, receive, send))
    runner.start()
    runner.join(timeout=120)
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(answer)


def test_a_csv_over_the_upload_limit_is_413_and_stores_nothing(
    api: Api, small_uploads: TestClient
) -> None:
    """12,000 good rows, 550 KB, arriving in pieces: more than a chunk of rows (and the
    reader's buffer) arrives under the limit, yet none is stored, nor a batch or audit event."""
    start = datetime(2026, 10, 5, tzinfo=UTC)
    lines = [f"{M},{(start + timedelta(minutes=i)).isoformat()},99\n" for i in range(12_000)]
    body = ("metric,observed_at,value\n" + "".join(lines)).encode()
    assert len(body) > UPLOAD_LIMIT > len("".join(lines[:CHUNK_ROWS])) + 64 * 1024
    agreement = _agreement(api)
    headers = {**api.auth(P, Role.PMO_TEAM), "Content-Type": "text/csv"}
    path = _url(agreement, csv=True)
    status, answer = _stream(small_uploads.app, path, headers, body)
    assert (status, answer["type"]) == (413, "/problems/too-large")
    session: Session = api.world.session
    session.rollback()
    assert session.exec(select(Measurement)).all() == []
    assert session.exec(select(MeasurementBatch)).all() == []
    uploads = select(AuditEvent).where(col(AuditEvent.action).startswith("measurements."))
    assert session.exec(uploads).all() == []
    within = body[: 300 * 1024].rsplit(b"\n", 1)[0]
    status, answer = _stream(small_uploads.app, path, headers, within)
    assert status == 202, answer
    assert answer["accepted"] == within.count(b"\n")


def _cli_root() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _main(ctx: typer.Context, database_url: str = typer.Option(...)) -> None:
        ctx.obj = SimpleNamespace(database_url=database_url)

    root.add_typer(measurements_app, name="measurements")
    return root


def test_cli_import(api: Api, tmp_path: Path, database_url: str) -> None:
    agreement = _agreement(api)
    root = _cli_root()
    file = tmp_path / "m.csv"
    file.write_text(CSV)
    email = api.world.who(P, Role.PMO_TEAM).email
    args = ["--database-url", database_url, "measurements", "import", agreement.key, str(file)]
    result = CliRunner().invoke(root, [*args, "--as", email])
    assert result.exit_code == 0, result.output
    assert f"{agreement.key}: 2 accepted, 0 duplicates, 2 rejected" in result.output
    assert "line 3: nope: unknown metric 'nope'" in result.output
    again = CliRunner().invoke(root, args)  # as the operator
    assert "0 accepted, 2 duplicates, 2 rejected" in again.output
    session: Session = api.world.session
    session.rollback()
    assert len(session.exec(select(Measurement)).all()) == 2


def test_cli_import_fails_when_no_row_is_taken(api: Api, tmp_path: Path, database_url: str) -> None:
    agreement = _agreement(api)
    file = tmp_path / "m.csv"
    args = ["--database-url", database_url, "measurements", "import", agreement.key, str(file)]
    file.write_text("metric,observed_at,value\nnope,2026-10-05T10:00:00Z,1\n" + f"{M},later,1\n")
    rejected = CliRunner().invoke(_cli_root(), args)
    assert rejected.exit_code == 1
    assert "0 accepted, 0 duplicates, 2 rejected" in rejected.stdout
    assert rejected.stderr.strip() == "error: nothing imported: all rows rejected (2)"
    file.write_text("metric,observed_at,value\n")
    empty = CliRunner().invoke(_cli_root(), args)
    assert empty.exit_code == 1
    assert empty.stderr.strip() == "error: nothing imported: no rows"


def test_cli_correct(api: Api, database_url: str) -> None:
    agreement = _agreement(api)
    assert agreement.id is not None
    store(api.world.session, agreement.id, NOVEMBER)
    at = "2026-11-12T00:00:00-05:00"  # proper-payments' November reading
    args = ["--database-url", database_url, "measurements", "correct", agreement.key]
    email = api.world.who(P, Role.PROGRAM_MANAGER).email
    result = CliRunner().invoke(
        _cli_root(), [*args, "proper-payments", at, "99.7", "--reason", "full file", "--as", email]
    )
    assert result.exit_code == 0, result.output
    assert f"{agreement.key}: proper-payments at {at} corrected to 99.7" in result.output
    session: Session = api.world.session
    session.rollback()
    correction = session.exec(select(MeasurementCorrection)).one()
    assert (correction.old_value, correction.value, correction.reason) == (99.0, 99.7, "full file")
    unknown = CliRunner().invoke(
        _cli_root(),
        [*args, "proper-payments", "2026-11-13T00:00:00Z", "1", "--reason", "x", "--as", email],
    )
    assert isinstance(unknown.exception, InvalidInput)
