"""Versions as YAML: the export's shape, the round trip, and what an import refuses."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import yaml
from sqlmodel import Session

from states import Role
from tests.helpers import C, P, World, make_world
from workflow import commands
from workflow.content import Content
from workflow.errors import InvalidInput, NotAllowedNow, StaleVersion
from workflow.example import EXAMPLE_PATH
from workflow.export import export_version, parse_document, to_yaml
from workflow.models import Agreement, AgreementVersion


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def _export(world: World, agreement: Agreement, number: int = 1) -> dict[str, Any]:
    return export_version(world.session, agreement, world.version(agreement, number))


def _import(
    world: World, agreement: Agreement, text: str | bytes, number: int = 1, **kw: Any
) -> AgreementVersion:
    version = world.version(agreement, number)
    args: dict[str, Any] = {
        "actor": world.who(C, Role.FUNCTIONAL_LEAD),
        "agreement_id": agreement.id,
        "number": number,
        "expected_lock_version": version.lock_version,
        "document": parse_document(text),
        "now": world.tick(),
    }
    args.update(kw)
    return commands.import_version(world.session, **args)


def test_an_export_has_the_example_shape_plus_identification_keys(world: World) -> None:
    agreement = world.create()
    exported = _export(world, agreement)
    version = world.version(agreement)
    example = world.document
    identification = ["agreement", "version", "modification_number", "state", "content_hash"]
    assert list(exported)[:5] == identification
    assert (exported["agreement"], exported["version"], exported["modification_number"]) == (
        agreement.key,
        1,
        0,
    )
    assert (exported["state"], exported["content_hash"]) == ("draft", version.content_hash)
    for key in ("title", "customer", "provider", "remedy_policy", "metrics", "stakeholders"):
        assert exported[key] == example[key], key
    # Terms gain only the defaults the model fills in; dates stay YAML dates.
    assert exported["terms"] == {**example["terms"], "unit_prices": {}}
    assert exported["terms"]["period_start"] == date(2026, 10, 1)
    assert list(exported["stakeholders"]["customer"]) == [r.value for r in Role]


def test_the_yaml_text_reads_back_as_the_same_data(world: World) -> None:
    agreement = world.create()
    exported = _export(world, agreement)
    text = to_yaml(exported)
    assert text.startswith(f"agreement: {agreement.key}\n")
    assert parse_document(text) == exported


def test_shared_objects_are_written_twice_not_as_aliases() -> None:
    person = {"name": "Dana Whitfield", "email": "dana.whitfield@customer.example"}
    text = to_yaml(
        {"stakeholders": {"customer": {"executive_sponsor": person, "pmo_lead": person}}}
    )
    assert "&id" not in text
    assert text.count("Dana Whitfield") == 2


def test_export_then_import_into_a_draft_keeps_the_content_hash(world: World) -> None:
    source = world.create()
    target = world.create(content=Content(), title="An empty draft")
    assert world.version(target).content_hash != world.version(source).content_hash
    text = to_yaml(_export(world, source))
    imported = _import(world, target, text)
    assert imported.content_hash == world.version(source).content_hash
    assert imported.metrics == world.version(source).metrics
    assert imported.lock_version == 2


def test_the_hand_written_example_imports_like_the_agreement_made_from_it(world: World) -> None:
    made = world.create()
    target = world.create(content=Content())
    imported = _import(world, target, EXAMPLE_PATH.read_bytes())
    assert imported.content_hash == world.version(made).content_hash


def test_a_revision_with_target_changes_round_trips_unchanged(world: World) -> None:
    agreement = world.create()
    world.to_active(agreement)
    revision = commands.start_revision(
        world.session,
        actor=world.who(P, Role.BUSINESS_OWNER),
        agreement_id=agreement.id,  # type: ignore[arg-type]
        now=world.tick(),
    )
    metrics = [dict(m) for m in revision.metrics]
    metrics[0]["target"] = 99.5
    metrics[0]["target_change"] = {"driven_by": "provider", "reason": "staffing changes"}
    edited = commands.edit_draft(
        world.session,
        actor=world.who(C, Role.FUNCTIONAL_LEAD),
        agreement_id=agreement.id,  # type: ignore[arg-type]
        number=2,
        expected_lock_version=revision.lock_version,
        terms={"annual_cost": "5000000.00", "unit_prices": {"payslip": "1.25"}},
        metrics=metrics,
        now=world.tick(),
    )
    exported = _export(world, agreement, 2)
    assert (exported["version"], exported["modification_number"]) == (2, 1)
    reimported = _import(world, agreement, to_yaml(exported), number=2)
    assert reimported.content_hash == edited.content_hash


def test_only_a_draft_takes_an_import(world: World) -> None:
    agreement = world.create()
    text = to_yaml(_export(world, agreement))
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    with pytest.raises(NotAllowedNow) as refusal:
        _import(world, agreement, text)
    assert refusal.value.current_state == "joint_review"
    assert "only a draft" in refusal.value.message


def test_unknown_top_level_keys_are_refused_by_name(world: World) -> None:
    agreement = world.create()
    before = world.version(agreement).content_hash
    document = _export(world, agreement)
    document["signatures"] = ["someone"]
    with pytest.raises(InvalidInput, match="unknown top-level keys: signatures") as refusal:
        _import(world, agreement, to_yaml(document))
    assert refusal.value.errors == [{"field": "signatures", "message": "not allowed"}]
    world.session.rollback()
    assert world.version(agreement).content_hash == before


def test_invalid_metrics_are_named_field_by_field(world: World) -> None:
    agreement = world.create()
    document = _export(world, agreement)
    document["metrics"][1]["target"] = "ninety-nine"
    document["metrics"][2]["colour"] = "blue"
    with pytest.raises(InvalidInput) as refusal:
        _import(world, agreement, to_yaml(document))
    fields = {e["field"] for e in refusal.value.errors}
    assert fields == {"metrics.1.target", "metrics.2.colour"}


def test_a_stale_lock_version_is_refused(world: World) -> None:
    agreement = world.create()
    text = to_yaml(_export(world, agreement))
    _import(world, agreement, text)
    with pytest.raises(StaleVersion, match="lock_version is now 2"):
        _import(world, agreement, text, expected_lock_version=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("terms: [1, 2\n", "not valid YAML: expected ',' or ']'"),
        ("- a list\n", "must be a YAML mapping"),
        ("", "must be a YAML mapping"),
        ("1: one\n", "top-level keys must be text"),
        ("terms: &t {currency: USD}\nmetrics: *t\n", "aliases are not supported at line 2"),
        ("metrics:\n  - {key: a, target: 1, target: 2}\n", "duplicate key 'target' at line 2"),
        (b"title: \xff\n", "not UTF-8"),
    ],
)
def test_documents_that_are_not_a_yaml_mapping_are_refused(text: str | bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as refusal:
        parse_document(text)
    assert refusal.value.errors[0]["field"] == "body"


def test_the_example_file_is_valid_yaml_for_the_strict_loader() -> None:
    assert parse_document(EXAMPLE_PATH.read_text()) == yaml.safe_load(EXAMPLE_PATH.read_text())
