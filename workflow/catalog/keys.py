"""Stable keys for measures, even where a workbook gives two measures the same ID.

A measure whose ID is unique in its workbook is keyed by the ID. Where an ID is reused (FMCF-9
gives FFM.100.010.0011 to three different measures), every row carrying it is keyed by the ID
plus a fingerprint of its name: `FFM.100.010.0011~3f2a9c1b`. That key does not depend on row
order, so re-importing the workbook — even with rows moved — finds the same measure again; only
renaming a measure with a reused ID makes it a new one. Two rows with the same ID *and* name
get an ordinal on top (`~3f2a9c1b~2`).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass

from workflow.catalog.workbook import MeasureRow


@dataclass(frozen=True)
class DuplicateId:
    """An ID the workbook gives to more than one row, and the keys those rows got."""

    measure_id: str
    rows: list[tuple[str, int]]  # (sheet, row)
    keys: list[str]


def name_fingerprint(name: str | None) -> str:
    norm = " ".join((name or "").casefold().split())
    return hashlib.sha256(norm.encode()).hexdigest()[:8]


def assign_keys(rows: list[MeasureRow]) -> tuple[list[tuple[str, MeasureRow]], list[DuplicateId]]:
    """Each row with its key (in workbook order), and every reused ID."""
    counts = Counter(r.measure_id for r in rows)
    seen: Counter[str] = Counter()
    keyed: list[tuple[str, MeasureRow]] = []
    by_id: defaultdict[str, list[tuple[str, MeasureRow]]] = defaultdict(list)
    for row in rows:
        key = row.measure_id
        if counts[key] > 1:
            key = f"{key}~{name_fingerprint(row.fields.get('name'))}"
            seen[key] += 1
            if seen[key] > 1:
                key = f"{key}~{seen[key]}"
        keyed.append((key, row))
        by_id[row.measure_id].append((key, row))
    duplicates = [
        DuplicateId(
            measure_id=measure_id,
            rows=[(r.sheet, r.row) for _, r in entries],
            keys=[k for k, _ in entries],
        )
        for measure_id, entries in by_id.items()
        if len(entries) > 1
    ]
    return keyed, duplicates
