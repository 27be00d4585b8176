"""Hostile and damaged workbooks: refused before openpyxl reads them, nothing written (both DBs).

A workbook over a size or count bound is `WorkbookTooLarge` (HTTP 413), a damaged one
`InvalidInput` (422); the import reads the workbook before its write transaction begins.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from tests.catalog_workbooks import (
    BILLION_LAUGHS,
    FMCF9,
    HR_SHEET,
    hr_workbook,
    package,
    part,
    shared_strings_xml,
    sheet_xml,
    with_parts,
)
from tests.helpers import T0, make_world
from workflow import commands
from workflow.access import Actor
from workflow.catalog.package import PackageLimits, WorkbookTooLarge, check_package
from workflow.catalog.workbook import read_workbook
from workflow.commands import catalog as catalog_command
from workflow.db import make_engine
from workflow.errors import InvalidInput
from workflow.models import AuditEvent, CatalogMeasure, CatalogSource, Organization

HEADER: list[object] = ["Measure ID", "Measure Name", "Measure Target"]
MEASURES: list[list[object]] = [HEADER, ["M.1", "First", 0.95], ["M.2", "Second", ">= 90%"]]


def _with_strings(count: int) -> bytes:
    rows: list[list[object]] = [HEADER, *[[f"M.{i}", i, 0.9] for i in range(count)]]
    strings = shared_strings_xml([f"name {i}" for i in range(count)])
    return package({"S": sheet_xml(rows)}, {"xl/sharedStrings.xml": strings})


def _inflating(size: int) -> bytes:
    """The HR workbook with a part of `size` bytes of spaces, which deflate ~1000-fold."""
    return with_parts(hr_workbook(), {"customXml/item1.xml": b"<a>" + b" " * size + b"</a>"})


@pytest.mark.parametrize(
    ("content", "limits", "says"),
    [
        (_inflating(2 * 2**20), PackageLimits(), "customXml/item1.xml: inflates 1"),
        (_inflating(25 * 2**20), PackageLimits(), "inflates to more than 25165824 bytes"),
        (hr_workbook(), PackageLimits(total_bytes=10_000), "the workbook: inflates to more"),
        (hr_workbook(), PackageLimits(members=5), "the workbook: more than 5 parts"),
        (_with_strings(11), PackageLimits(shared_strings=10), "more than 10 shared strings"),
        (_with_strings(11), PackageLimits(rows=10), "sheet1.xml: more than 10 rows"),
        (_with_strings(11), PackageLimits(cells=30), "more than 30 cells"),
        (_with_strings(11), PackageLimits(row_elements=5), "more than 5 elements in one"),
        (hr_workbook(), PackageLimits(other_elements=50), "more than 50 elements outside"),
        (
            package(
                {"S": sheet_xml(MEASURES).replace(b"<sheetData>", b"<x/>" * 9 + b"<sheetData>")}
            ),
            PackageLimits(part_elements=10),
            "more than 10 elements outside its rows",
        ),
        (_with_strings(11), PackageLimits(measures=10), "sheet S: more than 10 measure rows"),
    ],
)
def test_a_workbook_over_a_bound_is_too_large(
    content: bytes, limits: PackageLimits, says: str
) -> None:
    with pytest.raises(WorkbookTooLarge) as refused:
        read_workbook(content, limits)
    assert says in " ".join(f"{e['field']}: {e['message']}" for e in refused.value.errors)


def test_the_bounds_leave_room_for_the_real_workbook() -> None:
    check_package(FMCF9.read_bytes())  # raises if not


def _truncated() -> bytes:
    sheet = part(hr_workbook(), HR_SHEET)
    return with_parts(hr_workbook(), {HR_SHEET: sheet[: len(sheet) // 2]})


EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE sst SYSTEM "file:///etc/passwd">'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
)


@pytest.mark.parametrize(
    ("content", "message", "names"),
    [
        (_truncated(), "the workbook holds malformed XML", HR_SHEET),
        (with_parts(hr_workbook(), {HR_SHEET: BILLION_LAUGHS}), "declares a DTD", HR_SHEET),
        (
            with_parts(hr_workbook(), {"xl/sharedStrings.xml": EXTERNAL_ENTITY}),
            "declares a DTD",
            "xl/sharedStrings.xml",
        ),
        # A shared-string index past the table: openpyxl's IndexError, the file's fault.
        (
            package(
                {"S": sheet_xml([HEADER, ["M.1", 5, 0.9]])},
                {"xl/sharedStrings.xml": shared_strings_xml(["a"])},
            ),
            "not a readable .xlsx workbook",
            "file",
        ),
        (b"PK\x03\x04 not really a zip", "not a readable .xlsx workbook", "the file"),
    ],
)
def test_a_damaged_workbook_is_invalid_input_naming_the_part(
    content: bytes, message: str, names: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        read_workbook(content)
    assert not isinstance(refused.value, WorkbookTooLarge)
    assert message in refused.value.message
    assert refused.value.errors[0]["field"] == names


@pytest.fixture
def admin(session: Session) -> Actor:
    world = make_world(session)
    user = commands.create_user(
        session,
        actor=None,
        email="admin@accord.example",
        name="Ada Admin",
        organization_id=world.parties.provider_org_id,
        is_admin=True,
        now=T0,
    )
    return Actor.of(user)


def _import(session: Session, admin: Actor, content: bytes, name: str = "x.xlsx") -> Any:
    return commands.import_catalog(session, actor=admin, filename=name, content=content, now=T0)


def _written(session: Session) -> tuple[int, int, int]:
    session.rollback()
    catalog_events = select(AuditEvent).where(AuditEvent.action == "catalog.imported")
    return (
        len(session.exec(select(CatalogSource)).all()),
        len(session.exec(select(CatalogMeasure)).all()),
        len(session.exec(catalog_events).all()),
    )


@pytest.mark.parametrize(
    ("content", "refusal"),
    [
        (_inflating(2 * 2**20), WorkbookTooLarge),
        (_truncated(), InvalidInput),
        (with_parts(hr_workbook(), {HR_SHEET: BILLION_LAUGHS}), InvalidInput),
        (package({"S": sheet_xml([HEADER])}), InvalidInput),  # a header, no measures
    ],
)
def test_a_refused_workbook_writes_nothing(
    session: Session, admin: Actor, content: bytes, refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        _import(session, admin, content)
    assert _written(session) == (0, 0, 0)


def test_a_header_without_measures_is_a_skipped_sheet_with_its_reason(
    session: Session, admin: Actor
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _import(session, admin, package({"S": sheet_xml([HEADER])}))
    assert refused.value.errors == [
        {"field": "sheet S", "message": "a header on row 1 but no measure rows below it"}
    ]


def test_the_workbook_is_read_before_the_write_transaction(
    session: Session, admin: Actor, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the workbook is parsed, the import holds no transaction: another user's write
    goes through at once (with no busy timeout, a held SQLite write lock would refuse it)."""
    other = make_engine(database_url)
    if other.dialect.name == "sqlite":

        @event.listens_for(other, "connect")
        def _no_wait(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA busy_timeout=0")

    reading = read_workbook
    seen: list[bool] = []

    def read_while_another_writes(content: bytes, limits: PackageLimits) -> Any:
        seen.append(session.in_transaction())
        with Session(other) as elsewhere:
            commands.create_organization(elsewhere, actor=None, name="Written meanwhile", now=T0)
        return reading(content, limits)

    monkeypatch.setattr(catalog_command, "read_workbook", read_while_another_writes)
    try:
        report = _import(session, admin, hr_workbook(), "hr.xlsx")
    finally:
        other.dispose()
    assert seen == [False]
    assert report.rows == 5
    session.rollback()
    names = session.exec(select(Organization.name)).all()
    assert "Written meanwhile" in names


def test_a_prefixed_header_is_read_and_every_skipped_sheet_named(
    session: Session, admin: Actor
) -> None:
    prefixed: list[list[object]] = [
        ["XYZ Service Measure ID", "XYZ Service Measure Name", "XYZ Service Measure Target"],
        ["X.1", "Tickets resolved", 0.95],
        ["X.2", "Calls answered", ">= 90%"],
    ]
    content = package(
        {
            "XYZ Service Measures": sheet_xml(prefixed),
            "Notes": sheet_xml([["How to read this workbook"]]),
            "Functions": sheet_xml([["Function ID", "Function Name"], ["F.1", "Budget"]]),
        }
    )
    report = _import(session, admin, content)
    assert (report.sheets, report.rows, report.imported) == (["XYZ Service Measures"], 2, 2)
    assert [(s.sheet, s.reason) for s in report.skipped_sheets] == [
        ("Notes", "no header row naming an ID, a name and a target in the first 30 rows"),
        ("Functions", "row 1 looks like a header but has no column for: target"),
    ]


_MEASURE = """
import json, resource, sys
from workflow.catalog.workbook import read_workbook
content = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    outcome = sum(len(s.measures) for s in read_workbook(content))
except Exception as exc:
    outcome = type(exc).__name__
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "growth_kib": after - before}))
"""


def _peak_growth_mib(path: Path) -> tuple[Any, float]:
    """Peak RSS growth of reading the workbook, in a fresh process (ru_maxrss never falls)."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    answer = json.loads(done.stdout)
    return answer["outcome"], answer["growth_kib"] / 1024


def test_hostile_workbooks_of_a_megabyte_stay_within_100_mb(tmp_path: Path) -> None:
    repeated = tmp_path / "repeated.xlsx"  # the shape: one string, millions of times
    repeated.write_bytes(
        package(
            {"S": sheet_xml([HEADER, ["M.1", 0, 0.9]])},
            {"xl/sharedStrings.xml": shared_strings_xml(["repeated shared string"] * 3_000_000)},
        )
    )
    rnd = random.Random(1)
    strings = [" ".join(f"w{rnd.randrange(300)}" for _ in range(40)) for _ in range(2_000)]
    header: list[object] = [*HEADER, *(f"Column {i}" for i in range(10))]
    rows: list[list[object]] = [
        header,
        *[[f"M.{i}", *(rnd.randrange(2_000) for _ in range(12))] for i in range(4_999)],
    ]
    at_limit = tmp_path / "at_limit.xlsx"  # as many long measures as the bounds allow
    at_limit.write_bytes(
        package({"S": sheet_xml(rows)}, {"xl/sharedStrings.xml": shared_strings_xml(strings)})
    )
    assert repeated.stat().st_size < 2**20
    assert at_limit.stat().st_size < 2**20
    outcome, growth = _peak_growth_mib(repeated)
    assert (outcome, growth < 10) == ("WorkbookTooLarge", True), growth
    outcome, growth = _peak_growth_mib(at_limit)
    assert (outcome, growth < 100) == (4_999, True), growth
