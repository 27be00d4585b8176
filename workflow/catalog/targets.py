"""Reading a workbook's target cell into comparator, value and unit — or saying why not.

The fraction / percent rule (FIBF workbooks mix both for the same kind of measure):

1. A `%` (or the word percent) in the text means percentage points as written: `98%` → 98.
2. A number in a cell that Excel formats as a percentage is a fraction: 0.98 → 98 percent
   (the cell shows "98%"; Excel stores 0.98).
3. A bare number strictly between 0 and 1 is a fraction too: 0.98 → 98 percent. No FIBF
   measure targets a fraction of a count or of a day, so this reading is safe.
4. A bare 0 or 1 is a fraction (0 / 100 percent) only when the measure says it is a
   percentage (its name or description mentions "percent" or "%"): the FMCF-9 workbook has
   `1` as the target of "Percentage (%) of time 1099 reports are produced …" in a General
   cell. Otherwise it is a number without a unit (`0` open material weaknesses).
5. Any other bare number is taken as written, without a unit.

Everything else that is not one comparator, one value and one known unit is reported with a
reason; nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

PERCENT = "percent"

# Comparator words before the number ("at least 98%") and after it ("2% or less").
_PREFIXES = {
    "at least": ">=",
    "no less than": ">=",
    "not less than": ">=",
    "greater than or equal to": ">=",
    "minimum": ">=",
    "min": ">=",
    "more than": ">",
    "greater than": ">",
    "above": ">",
    "at most": "<=",
    "no more than": "<=",
    "not more than": "<=",
    "less than or equal to": "<=",
    "not to exceed": "<=",
    "maximum": "<=",
    "max": "<=",
    "within": "<=",
    "less than": "<",
    "fewer than": "<",
    "below": "<",
    "under": "<",
    "equal to": "=",
    "exactly": "=",
}
_SUFFIXES = {
    "or less": "<=",
    "or fewer": "<=",
    "or lower": "<=",
    "or below": "<=",
    "or more": ">=",
    "or greater": ">=",
    "or higher": ">=",
    "or above": ">=",
}
_SYMBOLS = {"≥": ">=", "≤": "<=", "=>": ">=", "=<": "<=", "⩾": ">=", "⩽": "<="}

# Units as written → the unit a metric records. Work days are business days in the domain.
_UNITS = {
    "%": PERCENT,
    "percent": PERCENT,
    "per cent": PERCENT,
    "pct": PERCENT,
    "day": "days",
    "days": "days",
    "calendar day": "days",
    "calendar days": "days",
    "business day": "business days",
    "business days": "business days",
    "work day": "business days",
    "work days": "business days",
    "workday": "business days",
    "workdays": "business days",
    "government work day": "business days",
    "government work days": "business days",
    "hour": "hours",
    "hours": "hours",
    "hr": "hours",
    "hrs": "hours",
    "minute": "minutes",
    "minutes": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "second": "seconds",
    "seconds": "seconds",
    "sec": "seconds",
    "secs": "seconds",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
    "year": "years",
    "years": "years",
}
_YES = {"yes", "y", "true"}
_NO = {"no", "n", "false"}
_TBD = re.compile(r"^(tbd|tba|to be determined|to be agreed|to be established)\b")
_NOT_APPLICABLE = {"n/a", "na", "none", "not applicable", "-", "—"}
_NUMBER_WORDS = re.compile(
    r"\b(zero|one|two|three|four|five|six|seven|eight|nine|ten|hundred|percent)\b"
)
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_FORM = re.compile(
    rf"^(?P<prefix>[a-z ]+?)?\s*(?P<symbol>>=|<=|<|>|=)?\s*(?P<number>{_NUMBER})\s*"
    rf"(?P<unit>%|(?!or\b)[a-z][a-z ]*?)?\s*(?P<suffix>or [a-z]+)?$"
)


@dataclass(frozen=True)
class Target:
    """A target as written (`text`) and as read; `problem` says why it could not be read."""

    text: str
    comparator: str | None = None
    value: Decimal | None = None
    unit: str | None = None
    problem: str | None = None

    @property
    def interpretable(self) -> bool:
        return self.problem is None


CellValue = str | int | float | bool | Decimal | datetime | date | time | None


def cell_text(value: CellValue) -> str:
    """The cell as text, numbers without a float's noise (`0.98`, not `0.9800000000000001`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return _plain(Decimal(str(value)))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value.strip()


def parse_target(
    value: CellValue, *, percent_format: bool = False, says_percent: bool = False
) -> Target:
    """Read one target cell; `percent_format`: Excel shows it as a percentage;
    `says_percent`: the measure's name or description calls it a percentage."""
    text = cell_text(value)
    if isinstance(value, bool):
        return _yes_no(text, value)
    if isinstance(value, datetime | date | time):
        return Target(text, problem="a date is not a target")
    if isinstance(value, int | float | Decimal):
        return _bare(text, Decimal(str(value)), percent_format, says_percent)
    return _parse_text(text, says_percent)


def _parse_text(text: str, says_percent: bool) -> Target:
    norm = _normalise(text)
    if not norm:
        return Target(text, problem="no target given")
    if _TBD.match(norm):
        said = " ".join(text.split())
        return Target(text, problem=f"the target is still to be determined ({said})")
    if norm in _NOT_APPLICABLE:
        return Target(text, problem="no target: not applicable")
    if norm in _YES or norm in _NO:
        return _yes_no(text, norm in _YES)
    match = _FORM.match(norm)
    if match is None:
        values = len(re.findall(_NUMBER, norm)) + len(_NUMBER_WORDS.findall(norm))
        if values > 1:
            return Target(text, problem="more than one value in one target")
        return Target(text, problem="not a comparator, a value and a unit")
    prefix = (match["prefix"] or "").strip()
    if prefix and prefix not in _PREFIXES:
        return Target(text, problem=f"unknown words before the value: {prefix!r}")
    if match["suffix"] and match["suffix"] not in _SUFFIXES:
        return Target(text, problem=f"unknown words after the value: {match['suffix']!r}")
    comparators = [
        c
        for c in (
            _PREFIXES.get(prefix),
            match["symbol"],
            _SUFFIXES.get(match["suffix"]) if match["suffix"] else None,
        )
        if c is not None
    ]
    if len(set(comparators)) > 1:
        return Target(text, problem="contradictory comparators")
    number = Decimal(match["number"])
    unit_text = (match["unit"] or "").strip()
    comparator = comparators[0] if comparators else None
    if not unit_text:
        bare = _bare(text, number, False, says_percent)
        return Target(text, comparator, bare.value, bare.unit)
    unit = _UNITS.get(unit_text)
    if unit is None:
        return Target(text, problem=f"unknown unit {unit_text!r}")
    return Target(text, comparator, _exact(number), unit)


def _bare(text: str, number: Decimal, percent_format: bool, says_percent: bool) -> Target:
    """A number without a unit, under rules 2 to 5 of the module docstring."""
    is_fraction = percent_format or 0 < number < 1 or (says_percent and number in (0, 1))
    if is_fraction:
        return Target(text, None, _exact(number * 100), PERCENT)
    return Target(text, None, _exact(number), None)


def _yes_no(text: str, yes: bool) -> Target:
    # Yes/no targets are measured as 1 (yes) or 0 (no).
    return Target(text, "=", Decimal(1 if yes else 0), "yes/no")


def _normalise(text: str) -> str:
    norm = " ".join(text.lower().split())
    for symbol, ascii_ in _SYMBOLS.items():
        norm = norm.replace(symbol, ascii_)
    norm = re.sub(r"(?<=\d),(?=\d{3}\b)", "", norm)  # thousands separators
    norm = re.sub(r"\s*(>=|<=|<|>|=)\s*", r" \1 ", norm).strip()
    return " ".join(norm.split())


def _exact(number: Decimal) -> Decimal:
    """The number without trailing zeros: 98.00 → 98, 0.020 → 0.02 (and 100 stays 100)."""
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()


def _plain(number: Decimal) -> str:
    return format(_exact(number), "f")


def describes_percentage(*texts: str | None) -> bool:
    """Does the measure call itself a percentage ("Percentage (%) of …", "% of …")?"""
    return any(t and ("%" in t or "percent" in t.lower()) for t in texts)
