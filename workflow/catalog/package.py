"""Checking an .xlsx package before openpyxl opens it: sizes, counts, well-formed XML, no DTD.

openpyxl trusts its input. It inflates whatever a part holds, keeps every shared string (and
the element that held it) in memory, parses styles and the workbook whole, and lets expat
read a DTD. A crafted 1 MB file took the server from 147 MiB to 917 MiB. So the package is
checked first: the zip's directory (declared sizes and ratios, nothing inflated yet), then
one streaming expat pass over every XML part, 64 KiB inflated at a time, counting what
openpyxl would hold. Only a package within `PackageLimits` reaches openpyxl.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass, field
from xml.parsers import expat

from workflow.errors import InvalidInput

MiB = 1024 * 1024
_READ = 64 * 1024
_XML_SUFFIXES = (".xml", ".rels")


@dataclass(frozen=True)
class PackageLimits:
    """Bounds on what a workbook may make the server inflate, parse and hold.

    The FMCF-9 workbook (321 KB) has 88 parts, 0.8 MiB inflated, ratios up to 14,
    120 KB of shared strings and 136 rows on its biggest sheet: these leave it room
    a hundredfold, while keeping the parse of a hostile 1 MB file under 100 MB.
    """

    members: int = 2_000
    total_bytes: int = 64 * MiB  # inflated, every part together
    part_bytes: int = 24 * MiB  # inflated, one part
    # Inflated / compressed, for parts bigger than `ratio_from` (small parts cannot bomb).
    ratio: int = 100
    ratio_from: int = MiB
    # openpyxl keeps the elements of a part while it reads it (those it streams, emptied).
    part_elements: int = 1_000_000
    # Every sheet together: what openpyxl holds, and what it takes time to read.
    shared_strings: int = 100_000
    rows: int = 50_000
    cells: int = 500_000
    # Elements of the parts openpyxl parses whole (styles, workbook, relationships, …),
    # together: everything but sheets and shared strings.
    other_elements: int = 200_000
    # Rows read as measures (or refused as such), every sheet together.
    measures: int = 5_000


LIMITS = PackageLimits()
# Elements counted over the whole workbook: local name → (limit, what it is).
_COUNTED = {
    "si": ("shared_strings", "shared strings"),
    "row": ("rows", "rows"),
    "c": ("cells", "cells"),
}


class WorkbookTooLarge(InvalidInput):
    """The workbook exceeds a `PackageLimits` bound (over HTTP: 413)."""


@dataclass
class _Counts:
    """Elements seen in the current part, and of `_COUNTED` kinds in the whole workbook."""

    limits: PackageLimits
    part: str = ""
    in_part: int = 0
    workbook: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTED, 0))

    def start(self, name: str, _attributes: object) -> None:
        self.in_part += 1
        if self.in_part > self.limits.part_elements:
            raise _too_large(self.part, f"more than {self.limits.part_elements} XML elements")
        local = name.rsplit(" ", 1)[-1]
        if local in self.workbook:
            self.workbook[local] += 1
            limit_name, what = _COUNTED[local]
            limit = getattr(self.limits, limit_name)
            if self.workbook[local] > limit:
                raise _too_large(self.part, f"more than {limit} {what} in the workbook")


def check_package(content: bytes, limits: PackageLimits = LIMITS) -> None:
    """Refuse a workbook too big to parse safely (WorkbookTooLarge) or malformed (InvalidInput)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise _unreadable("the file", exc) from None
    with archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        _check_directory(members, limits)
        counts = _Counts(limits)
        outside = 0
        for info in members:
            if not info.filename.lower().endswith(_XML_SUFFIXES):
                continue
            strings = counts.workbook["si"]
            _scan_xml(archive, info, counts)
            # Sheets and shared strings are streamed by openpyxl, bounded by their counts.
            streamed = info.filename.startswith("xl/worksheets/") or counts.workbook["si"] > strings
            if not streamed:
                outside += counts.in_part
                if outside > limits.other_elements:
                    message = f"more than {limits.other_elements} elements outside the sheets"
                    raise _too_large(info.filename, message)


def _check_directory(members: list[zipfile.ZipInfo], limits: PackageLimits) -> None:
    """Bounds read from the zip's directory alone: nothing is inflated yet."""
    if len(members) > limits.members:
        raise _too_large("the workbook", f"more than {limits.members} parts")
    total = 0
    for info in members:
        if info.file_size > limits.part_bytes:
            raise _too_large(info.filename, f"inflates to more than {limits.part_bytes} bytes")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_from and ratio > limits.ratio:
            raise _too_large(
                info.filename, f"inflates {ratio:.0f}-fold (at most {limits.ratio}-fold)"
            )
        total += info.file_size
    if total > limits.total_bytes:
        raise _too_large("the workbook", f"inflates to more than {limits.total_bytes} bytes")


def _scan_xml(archive: zipfile.ZipFile, info: zipfile.ZipInfo, counts: _Counts) -> None:
    """One streaming pass of expat over a part: well-formed, no DTD, elements counted."""
    limits = counts.limits
    counts.part, counts.in_part = info.filename, 0
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_entity
    parser.StartElementHandler = counts.start
    inflated = 0
    try:
        with archive.open(info) as part:
            while chunk := part.read(_READ):
                inflated += len(chunk)
                # zipfile stops at the declared size; this guards a lying directory anyway.
                if inflated > info.file_size or inflated > limits.part_bytes:
                    raise _too_large(info.filename, "inflates to more than it declares")
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise InvalidInput(
            "the workbook holds malformed XML",
            [{"field": info.filename, "message": f"not well-formed XML: {exc}"[:300]}],
        ) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise _unreadable(info.filename, exc) from None


def _no_dtd(name: str, *_rest: object) -> None:
    raise InvalidInput(
        "the workbook's XML declares a DTD, which no spreadsheet writes",
        [{"field": "file", "message": f"<!DOCTYPE {name}> is not accepted"}],
    )


def _no_entity(name: str, *_rest: object) -> None:
    raise InvalidInput(
        "the workbook's XML declares entities, which no spreadsheet writes",
        [{"field": "file", "message": f"<!ENTITY {name}> is not accepted"}],
    )


def _too_large(part: str, message: str) -> WorkbookTooLarge:
    return WorkbookTooLarge(
        "the workbook is too large to import", [{"field": part, "message": message}]
    )


def _unreadable(part: str, exc: BaseException) -> InvalidInput:
    return InvalidInput(
        "not a readable .xlsx workbook",
        [{"field": part, "message": f"{type(exc).__name__}: {exc}"[:300]}],
    )
