"""What an import tells its caller: counts, and everything it could not take as written."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Uninterpretable(_Frozen):
    sheet: str
    row: int
    id: str
    target: str
    reason: str


class DuplicateIdReport(_Frozen):
    id: str
    sheet_rows: list[str]  # "FFM Service Measures!99"
    keys: list[str]


class SkippedSheet(_Frozen):
    sheet: str
    reason: str


class SkippedRowReport(_Frozen):
    sheet: str
    row: int
    reason: str


class ImportReport(_Frozen):
    source_id: int
    filename: str
    sheets: list[str]  # the sheets measures were read from
    rows: int
    distinct_ids: int
    imported: int
    updated: int
    unchanged: int
    interpretable: int
    uninterpretable: list[Uninterpretable]
    duplicate_ids: list[DuplicateIdReport]
    skipped_sheets: list[SkippedSheet]
    skipped_rows: list[SkippedRowReport]
    # Measures of an earlier import of this workbook that this one no longer has; they stay
    # in the catalogue (drafts may cite them), and are named here so that nobody is surprised.
    not_in_workbook: list[str]
