"""Importing FIBF workbooks into the catalogue, and adding its measures to drafts (both DBs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from states import Role
from tests.catalog_workbooks import FMCF9, FMCF9_NAME, HR_ROWS, headerless_workbook, hr_workbook
from tests.helpers import T0, C, World, make_world
from workflow import commands
from workflow.access import Actor
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow, StaleVersion
from workflow.models import AuditEvent, CatalogMeasure, CatalogSource

# The known answer for FMCF-9 (FY 2024), counted once by hand from the workbook.
FMCF9_ROWS = 109  # measure rows of "FFM Service Measures" (header on row 6, rows 7-115)
FMCF9_DISTINCT_IDS = 106
FMCF9_REUSED = {
    "FFM.100.010.0011": [
        "FFM Service Measures!99",
        "FFM Service Measures!101",
        "FFM Service Measures!102",
    ],
    "FFM.100.010.0012": ["FFM Service Measures!100", "FFM Service Measures!103"],
}
FMCF9_INTERPRETED = 51  # 40 numeric cells + 11 texts (">=80%" x3, "<15%" x2, "2% or less" x3, …)
FMCF9_UNINTERPRETED = {
    "the target is still to be determined (TBD by Service Customer)": 51,
    "the target is still to be determined (TBD by QSMO)": 5,
    "the target is still to be determined (TBD by Agency)": 1,
    "more than one value in one target": 1,  # "100%\n\nZero"
}
FMCF9_SKIPPED_SHEETS = [
    "Cover",
    "Legend",
    "Change Log",
    "Overview",
    "CYB, ERM, ITS Service Measures",  # links to other workbooks, no measures
    "Auth-Other References",
    "Functions",
    "Activities",
]


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def admin(session: Session, world: World) -> Actor:
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


def _import_fmcf9(session: Session, actor: Actor | None, minutes: int = 0) -> Any:
    return commands.import_catalog(
        session,
        actor=actor,
        filename=FMCF9_NAME,
        content=FMCF9.read_bytes(),
        now=T0 + timedelta(minutes=minutes),
    )


def _measure(session: Session, measure_id: str) -> CatalogMeasure:
    session.rollback()
    return session.exec(select(CatalogMeasure).where(CatalogMeasure.measure_id == measure_id)).one()


def test_the_real_fmcf9_workbook_imports_with_the_known_counts(
    session: Session, admin: Actor
) -> None:
    report = _import_fmcf9(session, admin)

    assert (report.rows, report.distinct_ids) == (FMCF9_ROWS, FMCF9_DISTINCT_IDS)
    assert (report.imported, report.updated, report.unchanged) == (FMCF9_ROWS, 0, 0)
    assert report.sheets == ["FFM Service Measures"]
    assert {d.id: d.sheet_rows for d in report.duplicate_ids} == FMCF9_REUSED
    assert report.interpretable == FMCF9_INTERPRETED
    reasons: dict[str, int] = {}
    for u in report.uninterpretable:
        reasons[u.reason] = reasons.get(u.reason, 0) + 1
    assert reasons == FMCF9_UNINTERPRETED
    assert len(report.uninterpretable) == FMCF9_ROWS - FMCF9_INTERPRETED == 58
    zero = next(u for u in report.uninterpretable if u.id == "FFM.110.050.0011")
    assert (zero.row, zero.target) == (114, "100%\n\nZero")
    assert [s.sheet for s in report.skipped_sheets] == FMCF9_SKIPPED_SHEETS
    assert report.skipped_rows == []
    assert report.not_in_workbook == []

    session.rollback()
    measures = session.exec(select(CatalogMeasure)).all()
    assert len(measures) == FMCF9_ROWS
    assert len({m.key for m in measures}) == FMCF9_ROWS  # every measure distinguishable
    reused = [m for m in measures if m.duplicate_id]
    assert sorted(m.row for m in reused) == [99, 100, 101, 102, 103]
    assert all(m.key.startswith(f"{m.measure_id}~") for m in reused)
    source = session.exec(select(CatalogSource)).one()
    ffm = next(s for s in source.sheets if s["name"] == "FFM Service Measures")
    assert ffm == {"name": "FFM Service Measures", "header_row": 6, "measures": 109}

    # Targets as written and as read, one of each kind found in the workbook.
    def target(measure_id: str) -> tuple[Any, ...]:
        m = _measure(session, measure_id)
        return (m.target_text, m.target_comparator, m.target_value, m.target_unit)

    assert target("FFM.000.000.0011") == (">=80%", ">=", 80, "percent")
    assert target("FFM.110.020.0012") == ("0.98", None, 98, "percent")  # 0.00% format
    assert target("FFM.110.010.0013") == ("1", None, 100, "percent")  # "Percentage (%) of …"
    assert target("FFM.030.070.0041") == ("<.02%", "<", 0.02, "percent")
    assert target("FFM.100.030.0011") == ("<60 days", "<", 60, "days")
    assert target("FFM.100.030.0012") == ("2% or less", "<=", 2, "percent")
    by_row = {m.row: m for m in measures}
    # "Number of General Ledger account balances …": a bare 0, no percent.
    assert (by_row[101].target_text, by_row[101].target_value, by_row[101].target_unit) == (
        "0",
        0,
        None,
    )

    events = session.exec(select(AuditEvent).where(AuditEvent.action == "catalog.imported")).all()
    assert [(e.chain, e.actor_id) for e in events] == [("system", admin.user_id)]


def test_reimporting_the_same_workbook_updates_nothing_and_never_duplicates(
    session: Session, admin: Actor
) -> None:
    _import_fmcf9(session, admin)
    again = _import_fmcf9(session, None, minutes=5)  # the CLI operator
    assert (again.imported, again.updated, again.unchanged) == (0, 0, FMCF9_ROWS)
    # The same bytes under another name are still the same workbook.
    renamed = commands.import_catalog(
        session, actor=admin, filename="fmcf9 (1).xlsx", content=FMCF9.read_bytes(), now=T0
    )
    assert (renamed.imported, renamed.unchanged, renamed.filename) == (0, 109, FMCF9_NAME)
    session.rollback()
    assert len(session.exec(select(CatalogMeasure)).all()) == FMCF9_ROWS
    assert len(session.exec(select(CatalogSource)).all()) == 1


def test_another_layout_maps_by_its_own_column_names(session: Session, admin: Actor) -> None:
    report = commands.import_catalog(
        session, actor=admin, filename="HR measures.xlsx", content=hr_workbook(), now=T0
    )
    assert report.sheets == ["HR Service Measures"]
    assert [s.sheet for s in report.skipped_sheets] == ["Read me"]
    assert (report.rows, report.distinct_ids, report.imported) == (5, 4, 5)
    assert [(d.id, d.sheet_rows) for d in report.duplicate_ids] == [
        ("HCM.010.002", ["HR Service Measures!6", "HR Service Measures!7"])
    ]
    assert [(r.row, r.reason) for r in report.skipped_rows] == [(8, "no measure ID")]
    assert [(u.row, u.id, u.target) for u in report.uninterpretable] == [
        (10, "HCM.020.002", "TBD by Agency")
    ]

    first = _measure(session, "HCM.010.001")
    assert (first.target_text, first.target_value, first.target_unit) == ("0.95", 95, "percent")
    assert (first.name, first.category, first.measure_type) == (
        "Onboarding timeliness",
        "Customer Facing",
        "Timeliness",
    )
    assert (first.performing_org, first.accountable_org) == ("Service Provider", "Service Customer")
    assert (first.frequency, first.formula, first.sheet, first.row) == (
        "Quarterly",
        "on time / all",
        "HR Service Measures",
        5,
    )
    assert first.raw["Notes"] == "pilot"  # unmapped columns are kept as written
    session.rollback()
    reused = session.exec(
        select(CatalogMeasure)
        .where(CatalogMeasure.measure_id == "HCM.010.002")
        .order_by(col(CatalogMeasure.row))
    ).all()
    assert [(m.target_comparator, m.target_value, m.target_unit) for m in reused] == [
        (">=", 2, "percent"),
        ("<", 60, "days"),
    ]
    assert _measure(session, "HCM.020.001").target_unit == "yes/no"

    # A corrected release: one target changed, one measure dropped, one added.
    rows = [list(r) for r in HR_ROWS if r[0] != "HCM.020.002"]
    rows[1][3] = "≥ 3%"
    rows.append(
        [
            "HCM.030.001",
            "Separations processed",
            None,
            "98%",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ]
    )
    second = commands.import_catalog(
        session, actor=admin, filename="HR measures.xlsx", content=hr_workbook(rows), now=T0
    )
    assert (second.imported, second.updated, second.unchanged) == (1, 1, 3)
    assert second.not_in_workbook == ["HCM.020.002"]  # kept, and said so
    session.rollback()
    assert len(session.exec(select(CatalogMeasure)).all()) == 6


def test_only_administrators_import_and_only_workbooks(
    session: Session, world: World, admin: Actor
) -> None:
    with pytest.raises(Forbidden):
        commands.import_catalog(
            session,
            actor=world.who(C, Role.PROGRAM_MANAGER),
            filename="x.xlsx",
            content=hr_workbook(),
            now=T0,
        )
    with pytest.raises(InvalidInput, match=r"not a readable \.xlsx workbook"):
        commands.import_catalog(
            session, actor=admin, filename="x.xlsx", content=b"PK\x03\x04 not really", now=T0
        )
    with pytest.raises(InvalidInput, match="no sheet of this workbook has a recognisable") as no:
        commands.import_catalog(
            session, actor=admin, filename="x.xlsx", content=headerless_workbook(), now=T0
        )
    assert no.value.errors == [
        {
            "field": "sheet Sheet",
            "message": "row 1 looks like a header but has no column for: target",
        }
    ]
    session.rollback()
    assert session.exec(select(CatalogSource)).all() == []


# ---- adding a catalogue measure to a draft ----------------------------------------------------


def _add(world: World, measure: CatalogMeasure, lock: int, **kw: Any) -> Any:
    agreement = kw.pop("agreement")
    return commands.add_catalog_measure(
        world.session,
        actor=kw.pop("by", world.who(C, Role.PROGRAM_MANAGER)),
        agreement_id=agreement.id,
        number=1,
        measure_id=measure.id,  # type: ignore[arg-type]
        expected_lock_version=lock,
        now=world.tick(),
        **kw,
    )


def test_a_draft_adds_a_catalogue_measure_as_a_metric(
    session: Session, world: World, admin: Actor
) -> None:
    _import_fmcf9(session, admin)
    agreement = world.create()
    draft = world.version(agreement)
    lock, before = draft.lock_version, len(draft.metrics)
    measure = _measure(session, "FFM.100.030.0012")  # "2% or less", Service Provider, Monthly

    version = _add(world, measure, lock, agreement=agreement)

    assert version.lock_version == lock + 1
    assert len(version.metrics) == before + 1
    metric = version.metrics[-1]
    assert {
        k: metric[k]
        for k in (
            "key",
            "target",
            "unit",
            "direction",
            "window",
            "aggregation",
            "responsible_party",
            "source_id",
            "category",
        )
    } == {
        "key": "ffm.100.030.0012",
        "target": 2,
        "unit": "percent",
        "direction": "lower_is_better",
        "window": "month",
        "aggregation": "mean",
        "responsible_party": "provider",
        "source_id": "FFM.100.030.0012",
        "category": "quality",  # its FIBF measure type is Quality
    }
    assert metric["performing_org"] == "Service Provider"
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "version.metric_added_from_catalog")
    ).one()
    assert f'"catalog_measure_id":{measure.id}' in event.body
    assert '"metrics_added":["ffm.100.030.0012"]' in event.body

    # A customer-performed measure becomes the customer's responsiveness.
    customer = _measure(session, "FFM.060.050.0012")  # AR questions answered in 3 days, 100%
    version = _add(world, customer, version.lock_version, agreement=agreement)
    added = version.metrics[-1]
    assert (added["responsible_party"], added["category"], added["target"]) == (
        "customer",
        "customer_responsiveness",
        100,
    )
    # The same measure twice needs another key.
    with pytest.raises(InvalidInput, match=r"already has a metric 'ffm\.060\.050\.0012'"):
        _add(world, customer, version.lock_version, agreement=agreement)
    version = _add(world, customer, version.lock_version, agreement=agreement, key="ar-2")
    assert version.metrics[-1]["key"] == "ar-2"


def test_an_uninterpretable_target_needs_one_from_the_caller(
    session: Session, world: World, admin: Actor
) -> None:
    _import_fmcf9(session, admin)
    agreement = world.create()
    lock = world.version(agreement).lock_version
    tbd = _measure(session, "FFM.110.020.0011")  # "TBD by Service Customer", a run time
    with pytest.raises(InvalidInput, match="cannot be used") as refused:
        _add(world, tbd, lock, agreement=agreement)
    assert refused.value.errors == [
        {
            "field": "target",
            "message": "the target is still to be determined (TBD by Service Customer)",
        }
    ]
    version = _add(world, tbd, lock, agreement=agreement, target=4)
    assert (version.metrics[-1]["target"], version.metrics[-1]["unit"]) == (4, "count")


def test_only_a_current_draft_takes_catalogue_measures(
    session: Session, world: World, admin: Actor
) -> None:
    _import_fmcf9(session, admin)
    agreement = world.create()
    measure = _measure(session, "FFM.000.000.0011")
    lock = world.version(agreement).lock_version
    with pytest.raises(StaleVersion):
        _add(world, measure, lock - 1 if lock > 1 else lock + 1, agreement=agreement)
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    in_review = world.version(agreement)
    with pytest.raises(NotAllowedNow, match="only a draft can be edited"):
        _add(world, measure, in_review.lock_version, agreement=agreement)
    assert world.version(agreement).metrics == in_review.metrics
