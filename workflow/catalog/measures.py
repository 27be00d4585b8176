"""A workbook row as the values of a catalogue measure, with the fingerprint of those values."""

from __future__ import annotations

from typing import Any

from workflow.canonical import canonical_json, sha256_hex
from workflow.catalog.targets import Target, describes_percentage, parse_target
from workflow.catalog.workbook import MeasureRow

# Column lengths of catalog_measure; longer workbook text is cut, never refused.
_LENGTHS = {"name": 500, "category": 200, "service_level_type": 200, "measure_type": 200}
_TEXT_FIELDS = (
    "description",
    "category",
    "service_level_type",
    "measure_type",
    "performing_org",
    "reporting_org",
    "accountable_org",
    "frequency",
    "method",
    "formula",
    "rationale",
    "measurement_source",
)


def target_of(row: MeasureRow) -> Target:
    says_percent = describes_percentage(row.fields.get("name"), row.fields.get("description"))
    return parse_target(
        row.target, percent_format=row.target_percent_format, says_percent=says_percent
    )


def measure_values(key: str, row: MeasureRow, *, duplicate_id: bool) -> dict[str, Any]:
    """Every stored column of the measure except ids and times, `fingerprint` included."""
    target = target_of(row)
    values: dict[str, Any] = {
        "key": key,
        "measure_id": row.measure_id,
        "duplicate_id": duplicate_id,
        "sheet": row.sheet[:100],
        "row": row.row,
        "name": (row.fields.get("name") or row.measure_id)[: _LENGTHS["name"]],
        "target_text": target.text,
        "target_comparator": target.comparator,
        "target_value": float(target.value) if target.value is not None else None,
        "target_unit": target.unit,
        "target_problem": target.problem[:300] if target.problem else None,
        "raw": row.raw,
    }
    for name in _TEXT_FIELDS:
        text = row.fields.get(name)
        values[name] = text[: _LENGTHS[name]] if text and name in _LENGTHS else text
    values["fingerprint"] = sha256_hex("accord.catalog.v1", canonical_json(values))
    return values
