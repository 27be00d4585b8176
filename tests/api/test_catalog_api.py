"""The metric catalogue over HTTP and the CLI: upload FMCF-9, browse it, add to a draft."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import select
from typer.testing import CliRunner, Result

from api.cli.app import OneLineErrors
from api.cli.catalog import catalog_app
from api.cli.common import CliState
from states import Role
from tests.api.conftest import Api
from tests.catalog_workbooks import (
    BILLION_LAUGHS,
    FMCF9,
    FMCF9_NAME,
    HR_SHEET,
    hr_workbook,
    package,
    part,
    sheet_xml,
    with_parts,
)
from tests.helpers import C
from workflow.models import AuditEvent

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload(api: Api, content: bytes, name: str = FMCF9_NAME, **kw: Any) -> Any:
    headers = kw.pop("headers", api.admin)
    return api.client.post(
        "/api/v1/catalog/import", files={"file": (name, content, XLSX)}, headers=headers
    )


def _all(api: Api, query: str = "") -> list[dict[str, Any]]:
    """Every page of a listing, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        reply = api.client.get(
            f"/api/v1/catalog?limit=40{query}{cursor}", headers=api.auth(C, Role.FUNCTIONAL_LEAD)
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        items += body["items"]
        if body["next_cursor"] is None:
            return items
        cursor = f"&cursor={body['next_cursor']}"


def test_upload_browse_and_add_to_a_draft(api: Api) -> None:
    reply = _upload(api, FMCF9.read_bytes())
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert {k: report[k] for k in ("rows", "distinct_ids", "imported", "interpretable")} == {
        "rows": 109,
        "distinct_ids": 106,
        "imported": 109,
        "interpretable": 51,
    }
    assert len(report["uninterpretable"]) == 58
    assert report["uninterpretable"][0].keys() == {"sheet", "row", "id", "target", "reason"}
    assert [d["id"] for d in report["duplicate_ids"]] == ["FFM.100.010.0011", "FFM.100.010.0012"]
    again = _upload(api, FMCF9.read_bytes()).json()
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 0, 109)

    everything = _all(api)
    assert len(everything) == 109
    assert len({m["id"] for m in everything}) == 109
    assert len(_all(api, "&interpretable=false")) == 58
    assert len(_all(api, "&interpretable=true")) == 51
    assert len(_all(api, "&category=customer%20facing")) == 72
    suspense = _all(api, "&q=SUSPENSE")
    assert [m["measure_id"] for m in suspense] == ["FFM.100.010.0012"]
    assert suspense[0]["target"] == {
        "text": "2% or less",
        "comparator": "<=",
        "value": 2.0,
        "unit": "percent",
        "problem": None,
    }
    assert suspense[0]["duplicate_id"] is True

    detail = api.client.get(
        f"/api/v1/catalog/{suspense[0]['id']}", headers=api.auth(C, Role.FUNCTIONAL_LEAD)
    )
    assert detail.status_code == 200
    assert detail.json()["raw"]["Service Measure Target"] == "2% or less"
    missing = api.client.get("/api/v1/catalog/999999", headers=api.admin)
    assert missing.status_code == 404

    agreement = api.world.create()
    url = f"/api/v1/slas/{agreement.id}/versions/1/metrics:from-catalog"
    pm = api.auth(C, Role.PROGRAM_MANAGER)
    version = api.client.get(f"/api/v1/slas/{agreement.id}/versions/1", headers=pm).json()
    lock = version["lock_version"]
    body: dict[str, Any] = {"measure_id": suspense[0]["id"]}
    assert api.client.post(url, json=body, headers=pm).status_code == 428
    added = api.client.post(url, json={**body, "lock_version": lock}, headers=pm)
    assert added.status_code == 200, added.text
    assert added.headers["ETag"] == f'"{lock + 1}"'
    metric = next(m for m in added.json()["metrics"] if m.get("source_id") == "FFM.100.010.0012")
    assert (metric["target"], metric["direction"]) == (2, "lower_is_better")

    tbd = next(m for m in everything if not m["interpretable"])
    refused = api.client.post(
        url, json={"measure_id": tbd["id"], "lock_version": lock + 1}, headers=pm
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "target"
    given = api.client.post(
        url, json={"measure_id": tbd["id"], "lock_version": lock + 1, "target": 90}, headers=pm
    )
    assert given.status_code == 200, given.text
    stale = api.client.post(
        url, json={"measure_id": tbd["id"], "lock_version": lock, "key": "x"}, headers=pm
    )
    assert stale.status_code == 409


def test_only_administrators_upload_and_only_workbooks(api: Api) -> None:
    pm = api.auth(C, Role.PROGRAM_MANAGER)
    assert _upload(api, FMCF9.read_bytes(), headers=pm).status_code == 403
    not_xlsx = _upload(api, b"id,name,target\n1,a,98%\n", name="measures.csv")
    assert not_xlsx.status_code == 422
    assert not_xlsx.json()["detail"] == "send an Excel workbook (.xlsx)"
    corrupt = _upload(api, b"PK\x03\x04garbage", name="broken.xlsx")
    assert corrupt.status_code == 422
    assert corrupt.json()["detail"] == "not a readable .xlsx workbook"
    assert _all(api) == []


def _catalog_events(api: Api) -> int:
    session = api.world.session
    session.rollback()
    events = select(AuditEvent).where(AuditEvent.action == "catalog.imported")
    return len(session.exec(events).all())


def test_a_workbook_bomb_is_413_and_a_damaged_one_422_storing_nothing(api: Api) -> None:
    # 2 MiB of spaces deflate to a few KB: far under the body limit, 1000-fold inflation.
    bomb = with_parts(hr_workbook(), {"customXml/item1.xml": b"<a>" + b" " * 2**21 + b"</a>"})
    assert len(bomb) < 20_000
    too_large = _upload(api, bomb, name="bomb.xlsx")
    assert too_large.status_code == 413, too_large.text
    assert too_large.headers["content-type"] == "application/problem+json"
    assert too_large.json()["type"] == "/problems/too-large"
    assert too_large.json()["errors"][0]["field"] == "customXml/item1.xml"
    sheet = part(hr_workbook(), HR_SHEET)
    for damaged in (
        with_parts(hr_workbook(), {HR_SHEET: sheet[: len(sheet) // 2]}),
        with_parts(hr_workbook(), {HR_SHEET: BILLION_LAUGHS}),
    ):
        refused = _upload(api, damaged, name="damaged.xlsx")
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == HR_SHEET
    assert _all(api) == []
    assert _catalog_events(api) == 0


# ---- the CLI ---------------------------------------------------------------------------------


def _cli(database_url: str, *args: str) -> Result:
    """`accord --database-url URL catalog ...` through a root like api.cli's."""
    root = typer.Typer(cls=OneLineErrors)

    @root.callback()
    def _options(
        ctx: typer.Context, database_url: Annotated[str, typer.Option("--database-url")]
    ) -> None:
        ctx.obj = CliState(database_url)

    root.add_typer(catalog_app, name="catalog")
    return CliRunner().invoke(root, ["--database-url", database_url, "catalog", *args])


def test_the_cli_imports_and_lists(database_url: str, api: Api) -> None:
    first = _cli(database_url, "import", str(FMCF9))
    assert first.exit_code == 0, first.output
    out = first.stdout
    assert f"{FMCF9_NAME}: 109 measures from FFM Service Measures" in out
    assert "│ 109      │ 0       │ 0         │ 106          │ 51            │ 58  │" in out
    assert "Targets not interpreted" in out
    assert out.count("TBD by Service Customer") >= 51
    assert "more than one value in one target" in out
    assert "IDs used by more than one measure" in out
    assert "FFM.100.010.0011" in out
    assert "FFM Service Measures!99" in out

    second = _cli(database_url, "import", str(FMCF9))
    assert (
        "│ 0        │ 0       │ 109       │ 106          │ 51            │ 58  │" in second.stdout
    )

    listed = _cli(database_url, "list", "--q", "suspense")
    assert listed.exit_code == 0, listed.output
    (line,) = listed.stdout.strip().splitlines()
    assert line.split()[1:4] == ["FFM.100.010.0012", "2%", "or"]
    assert "→ <=2 percent" in line
    assert "Suspense Account Reconciliation" in line

    none = _cli(database_url, "list", "--q", "no such measure")
    assert none.stdout.strip() == "no catalogue measures"
    missing = _cli(database_url, "import", "/nonexistent.xlsx")
    assert missing.exit_code == 2


def test_the_cli_names_skipped_sheets_and_fails_when_nothing_is_imported(
    database_url: str, api: Api, tmp_path: Path
) -> None:
    imported = _cli(database_url, "import", str(FMCF9))
    assert imported.exit_code == 0, imported.output
    assert (
        "skipped sheet 'Activities': row 6 looks like a header but has no column for: target"
        in imported.stdout
    )
    assert imported.stdout.count("skipped sheet ") == 8
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(package({"Notes": sheet_xml([["Nothing to see"]])}))
    nothing = _cli(database_url, "import", str(empty))
    assert nothing.exit_code == 1
    (line,) = nothing.stderr.strip().splitlines()
    assert line.startswith("error: no sheet of this workbook has a recognisable header")
    assert "sheet Notes: no header row naming an ID" in line
