"""The measurement endpoints and `accord measurements import`, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import typer
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli_measurements import measurements_app
from api.limits import BodySizeLimit
from states import Role
from tests.api.conftest import Api
from tests.api.flows import outsider
from tests.helpers import C, P
from workflow.models import Agreement, Measurement

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


def test_cli_import(api: Api, tmp_path: Path, database_url: str) -> None:
    agreement = _agreement(api)
    root = typer.Typer()

    @root.callback()
    def _main(ctx: typer.Context, database_url: str = typer.Option(...)) -> None:
        ctx.obj = SimpleNamespace(database_url=database_url)

    root.add_typer(measurements_app, name="measurements")
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
