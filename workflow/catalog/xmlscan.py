"""One streaming expat pass over an XML part of a workbook: well-formed, no DTD, counted.

What is counted is what openpyxl would hold (see `workflow.catalog.package`): in a part it
streams (a worksheet, the shared strings) each row or string is held only while it is read,
so the elements inside one are bounded per row and the rest per part; a part it parses whole
is held whole, so all of its elements count against one budget for such parts.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.parsers import expat

from workflow.errors import InvalidInput

if TYPE_CHECKING:
    from workflow.catalog.package import PackageLimits

_READ = 64 * 1024
# Elements counted over the whole workbook: local name → (limit, what it is).
_COUNTED = {
    "si": ("shared_strings", "shared strings"),
    "row": ("rows", "rows"),
    "c": ("cells", "cells"),
}
_STREAMED_UNITS = frozenset({"row", "si"})


class WorkbookTooLarge(InvalidInput):
    """The workbook exceeds a `PackageLimits` bound (over HTTP: 413)."""


@dataclass
class Counts:
    """What the parts scanned so far hold; raises as soon as a bound is passed."""

    limits: PackageLimits
    workbook: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTED, 0))
    whole: int = 0  # elements of the parts parsed whole, together
    scanned: set[str] = field(default_factory=set)
    # The part being scanned.
    part: str = ""
    streamed: bool = False
    depth: int = 0
    unit_depth: int = 0  # depth of the row or string being read; 0 outside one
    in_unit: int = 0
    in_part: int = 0

    def begin(self, part: str, *, streamed: bool) -> None:
        self.scanned.add(part)
        self.part, self.streamed = part, streamed
        self.depth = self.unit_depth = self.in_unit = self.in_part = 0

    def start(self, name: str, _attributes: object) -> None:
        self.depth += 1
        local = name.rsplit(" ", 1)[-1]
        if local in self.workbook:
            self.workbook[local] += 1
            limit_name, what = _COUNTED[local]
            limit = getattr(self.limits, limit_name)
            if self.workbook[local] > limit:
                raise too_large(self.part, f"more than {limit} {what} in the workbook")
        if not self.streamed:
            self.whole += 1
            if self.whole > self.limits.other_elements:
                message = f"more than {self.limits.other_elements} elements outside the sheets"
                raise too_large(self.part, message)
        elif self.unit_depth:
            self.in_unit += 1
            if self.in_unit > self.limits.row_elements:
                message = f"more than {self.limits.row_elements} elements in one {local}"
                raise too_large(self.part, message)
        elif local in _STREAMED_UNITS:  # bounded by `_COUNTED`
            self.unit_depth, self.in_unit = self.depth, 0
        else:
            self.in_part += 1
            if self.in_part > self.limits.part_elements:
                message = f"more than {self.limits.part_elements} elements outside its rows"
                raise too_large(self.part, message)

    def end(self, _name: str) -> None:
        if self.depth == self.unit_depth:
            self.unit_depth = 0
        self.depth -= 1

    def doctype(self, name: str, *_ids: object) -> None:
        # No spreadsheet writes a DTD; with one come entity expansion and external entities.
        raise InvalidInput(
            "the workbook's XML declares a DTD, which no spreadsheet writes",
            [{"field": self.part, "message": f"<!DOCTYPE {name}> is not accepted"}],
        )

    def entity(self, name: str, *_definition: object) -> None:
        raise InvalidInput(
            "the workbook's XML declares entities, which no spreadsheet writes",
            [{"field": self.part, "message": f"<!ENTITY {name}> is not accepted"}],
        )


def scan_xml(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, counts: Counts, *, streamed: bool
) -> None:
    """Parse the part as it inflates, counting into `counts`; InvalidInput if malformed."""
    counts.begin(info.filename, streamed=streamed)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = counts.doctype
    parser.EntityDeclHandler = counts.entity
    parser.StartElementHandler = counts.start
    parser.EndElementHandler = counts.end
    inflated = 0
    try:
        with archive.open(info) as part:
            while chunk := part.read(_READ):
                inflated += len(chunk)
                # zipfile stops at the declared size; this guards a lying directory anyway.
                if inflated > info.file_size:
                    raise too_large(info.filename, "inflates to more than it declares")
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise InvalidInput(
            "the workbook holds malformed XML",
            [{"field": info.filename, "message": f"not well-formed XML: {exc}"[:300]}],
        ) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise unreadable(info.filename, exc) from None


def too_large(part: str, message: str) -> WorkbookTooLarge:
    return WorkbookTooLarge(
        "the workbook is too large to import", [{"field": part, "message": message}]
    )


def unreadable(part: str, exc: BaseException) -> InvalidInput:
    return InvalidInput(
        "not a readable .xlsx workbook",
        [{"field": part, "message": f"{type(exc).__name__}: {exc}"[:300]}],
    )
