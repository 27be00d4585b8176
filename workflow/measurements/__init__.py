"""Measurement ingestion: reading uploads row by row and checking each row against the
agreement. The command that stores them is `workflow.commands.measurements`."""

from workflow.measurements.rules import IngestRules, RawRow, Rejection, rules_for_versions
from workflow.measurements.sources import CSV_COLUMNS, csv_rows, json_rows

__all__ = [
    "CSV_COLUMNS",
    "IngestRules",
    "RawRow",
    "Rejection",
    "csv_rows",
    "json_rows",
    "rules_for_versions",
]
