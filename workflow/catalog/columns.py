"""Which column holds which field, across the FIBF family of service-measure workbooks.

The financial-management workbook says "Service Measure Target", the cybersecurity and IT
tabs "Measure Target", others "Target", "Performance Standard" or "Acceptable Quality Level";
HR, travel, real property and EEO workbooks name the organisations "Responsible Party",
"Performed By", "Accountable Party". A header is normalised (case, spacing, punctuation,
British spelling), stripped of the qualifiers every family prefixes at will ("Service",
"Measure", "Measurement", "SLA", "KPI", "Metric"), and looked up in one synonym table.
A header with words of its own around the known phrase ("HR Service Measure Name", "Target
FY 2025") is matched by that phrase, but only for a field no header names exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Fields a row needs to be a measure at all; a header without them is not a header.
REQUIRED = ("measure_id", "name", "target")

# field → the header cores (after normalisation and qualifier stripping) that name it.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "measure_id": ("id", "identifier", "code", "ref", "ref no", "no", "number", "id number"),
    "name": ("name", "title", "short name"),
    "description": ("description", "definition", "statement"),
    "target": (
        "target",
        "targets",
        "target value",
        "target level",
        "target threshold",
        "goal",
        "threshold",
        "standard",
        "performance standard",
        "performance target",
        "performance goal",
        "expected level",
        "acceptable quality level",
        "aql",
    ),
    "category": ("category", "categories"),
    "service_level_type": ("level type", "service level type"),
    "measure_type": ("type",),
    "performing_org": (
        "performing organization",
        "performing org",
        "performing party",
        "performed by",
        "performer",
        "responsible party",
        "responsible organization",
        "responsible org",
    ),
    "reporting_org": ("reporting organization", "reporting org", "reporting party", "reported by"),
    "accountable_org": (
        "accountable organization",
        "accountable org",
        "accountable party",
        "accountability",
    ),
    "frequency": ("frequency", "reporting frequency", "collection frequency", "periodicity"),
    "method": ("method", "collection method", "data collection method", "methodology"),
    "formula": ("formula", "calculation", "computation"),
    "rationale": ("rationale", "justification", "authoritative source", "authority"),
    "measurement_source": ("source", "data source"),
}

_QUALIFIERS = ("service", "measure", "measurement", "sla", "kpi", "metric", "slo")
_LOOKUP = {core: field for field, cores in SYNONYMS.items() for core in cores}
# How far down a sheet the header may sit (FMCF-9 has it on row 6 under a title block).
HEADER_SEARCH_ROWS = 30


def normalise_header(text: str) -> str:
    """'Service Measure Category ' → 'service measure category'; 'Organisation' → '...ization'."""
    # Parentheses hold abbreviations and asides: "Acceptable Quality Level (AQL)".
    norm = re.sub(r"\(.*?\)", " ", text.lower())
    norm = re.sub(r"[^a-z0-9%#]+", " ", norm).strip()
    norm = re.sub(r"\borganisation", "organization", norm)
    return norm.replace("#", " no ").strip()


def field_of(header: str) -> str | None:
    """The field a header names, or None."""
    words = normalise_header(header).split()
    # Try the whole header first ("service level type"), then without each leading qualifier.
    while words:
        core = " ".join(words)
        if core in _LOOKUP:
            return _LOOKUP[core]
        if words[0] not in _QUALIFIERS:
            return None
        words = words[1:]
    return None


def loose_field_of(header: str) -> str | None:
    """The field a known phrase inside the header names: the longest, then the last, phrase.

    A service area writes its acronym first ("CYB Service Measure Name"), a release its year
    last ("Target FY 2025"); no list of acronyms can keep up, so any words around a known
    phrase are allowed. English puts the head noun last: "Reference Name" is a name.
    """
    words = [w for w in normalise_header(header).split() if w not in _QUALIFIERS]
    for length in range(len(words), 0, -1):
        for start in range(len(words) - length, -1, -1):
            core = " ".join(words[start : start + length])
            if core in _LOOKUP:
                return _LOOKUP[core]
    return None


@dataclass(frozen=True)
class Header:
    """A sheet's header: its 1-based row, field → 0-based column, and every column's title."""

    row: int
    columns: dict[str, int]
    titles: dict[int, str]


@dataclass(frozen=True)
class NoHeader:
    """Why a sheet has no usable header."""

    reason: str


def map_header(cells: Sequence[object]) -> dict[str, int]:
    """field → column for one candidate row; the first column naming a field wins.

    Exact names first: a loose match only takes a field, and a column, left over by them.
    """
    texts = {i: cell for i, cell in enumerate(cells) if isinstance(cell, str) and cell.strip()}
    found: dict[str, int] = {}
    for match in (field_of, loose_field_of):
        for index, text in texts.items():
            field = match(text)
            if field is not None and field not in found and index not in found.values():
                found[field] = index
    return found


def find_header(rows: Sequence[Sequence[object]], first_row: int = 1) -> Header | NoHeader:
    """The first row (of the first HEADER_SEARCH_ROWS) that names every REQUIRED field."""
    best: tuple[int, dict[str, int]] | None = None
    for offset, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = map_header(cells)
        if all(f in columns for f in REQUIRED):
            titles = {
                i: " ".join(str(c).split())
                for i, c in enumerate(cells)
                if isinstance(c, str) and c.strip()
            }
            return Header(first_row + offset, columns, titles)
        if len(columns) >= 2 and (best is None or len(columns) > len(best[1])):
            best = (first_row + offset, columns)
    if best is None:
        return NoHeader(
            f"no header row naming an ID, a name and a target in the first "
            f"{HEADER_SEARCH_ROWS} rows"
        )
    row, columns = best
    missing = ", ".join(f for f in REQUIRED if f not in columns)
    return NoHeader(f"row {row} looks like a header but has no column for: {missing}")
