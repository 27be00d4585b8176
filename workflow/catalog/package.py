"""Checking an .xlsx package before openpyxl opens it: sizes, counts, well-formed XML, no DTD.

openpyxl trusts its input. It inflates whatever a part holds, keeps every shared string (and
the element that held it) in memory, parses styles, the workbook and every relationship part
whole, and lets expat read a DTD. A crafted 1 MB file took the server from 147 MiB to
917 MiB. So the package is checked first: the zip's directory (declared sizes and ratios,
nothing inflated yet), then one streaming expat pass over every XML part, 64 KiB inflated at
a time (`workflow.catalog.xmlscan`), counting what openpyxl would hold. Only a package within
`PackageLimits` reaches openpyxl.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

from workflow.catalog.xmlscan import Counts, WorkbookTooLarge, scan_xml, too_large, unreadable

MiB = 1024 * 1024
_XML_SUFFIXES = (".xml", ".rels")
_CONTENT_TYPES = "[Content_Types].xml"
_SHARED_STRINGS = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_WORKBOOK_TYPES = (".sheet.main+xml", ".template.main+xml", "macroEnabled.main+xml")
# Parts openpyxl parses whole whatever the relationships say (besides the workbook's own).
_ALWAYS_WHOLE = frozenset(
    {_CONTENT_TYPES, "xl/styles.xml", "docProps/core.xml", "docProps/custom.xml"}
)

__all__ = ["LIMITS", "PackageLimits", "WorkbookTooLarge", "check_package"]


@dataclass(frozen=True)
class PackageLimits:
    """Bounds on what a workbook may make the server inflate, parse and hold.

    The FMCF-9 workbook (321 KB) has 88 parts, 0.8 MiB inflated, ratios up to 14, 120 KB of
    shared strings and 136 rows on its biggest sheet: these leave it room many times over,
    while a hostile file of 1 MB raises the parse's peak memory by under 100 MB.
    """

    members: int = 2_000
    total_bytes: int = 64 * MiB  # inflated, every part together
    part_bytes: int = 24 * MiB  # inflated, one part
    # Inflated / compressed, for parts bigger than `ratio_from` (small parts cannot bomb).
    ratio: int = 100
    ratio_from: int = MiB
    # Every sheet together: what openpyxl holds, and what it takes time to read.
    shared_strings: int = 100_000
    rows: int = 50_000
    cells: int = 500_000
    # openpyxl streams a sheet a row at a time (a shared string at a time), keeping the
    # rest of the part: at most this many elements in one row or string, and outside them.
    row_elements: int = 50_000
    part_elements: int = 50_000
    # Elements of the parts openpyxl parses whole (styles, workbook, relationships, …) and
    # of the parts it ignores, together: everything but sheets and shared strings.
    other_elements: int = 40_000
    # Rows read as measures (or refused as such), every sheet together.
    measures: int = 5_000


LIMITS = PackageLimits()


def check_package(content: bytes, limits: PackageLimits = LIMITS) -> None:
    """Refuse a workbook too big to parse safely (WorkbookTooLarge) or malformed (InvalidInput)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise unreadable("the file", exc) from None
    with archive:
        members = {i.filename: i for i in archive.infolist() if not i.is_dir()}
        _check_directory(list(members.values()), limits)
        counts = Counts(limits)
        streamed = _streamed_parts(archive, members, counts)
        for name, info in members.items():
            if name.lower().endswith(_XML_SUFFIXES) and name not in counts.scanned:
                scan_xml(archive, info, counts, streamed=name in streamed)


def _check_directory(members: list[zipfile.ZipInfo], limits: PackageLimits) -> None:
    """Bounds read from the zip's directory alone: nothing is inflated yet."""
    if len(members) > limits.members:
        raise too_large("the workbook", f"more than {limits.members} parts")
    total = 0
    for info in members:
        if info.file_size > limits.part_bytes:
            raise too_large(info.filename, f"inflates to more than {limits.part_bytes} bytes")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_from and ratio > limits.ratio:
            raise too_large(
                info.filename, f"inflates {ratio:.0f}-fold (at most {limits.ratio}-fold)"
            )
        total += info.file_size
    if total > limits.total_bytes:
        raise too_large("the workbook", f"inflates to more than {limits.total_bytes} bytes")


def _streamed_parts(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], counts: Counts
) -> set[str]:
    """The worksheets and the shared strings, found as openpyxl finds them: every other XML
    part is held whole. The parts that say so are scanned (bounded) before being parsed."""

    def parsed(name: str) -> ElementTree.Element | None:
        if name not in members:
            return None
        scan_xml(archive, members[name], counts, streamed=False)
        return ElementTree.fromstring(archive.read(name))  # noqa: S314 - scanned: no DTD, bounded

    types = parsed(_CONTENT_TYPES)
    overrides = {
        o.get("PartName", "").lstrip("/"): o.get("ContentType", "")
        for o in (types if types is not None else [])
        if o.tag.endswith("}Override")
    }
    strings = {p for p, t in overrides.items() if t == _SHARED_STRINGS}
    # openpyxl falls back on the usual name when no override says which part is the workbook.
    workbook = next(
        (p for p, t in overrides.items() if t.endswith(_WORKBOOK_TYPES)), "xl/workbook.xml"
    )
    folder, file = posixpath.split(workbook)
    rels = parsed(posixpath.join(folder, "_rels", f"{file}.rels"))
    sheets = {
        posixpath.normpath(posixpath.join(folder, target))
        if not (target := r.get("Target", "")).startswith("/")
        else target[1:]
        for r in (rels if rels is not None else [])
        if r.get("Type", "").endswith("/worksheet")
    }
    return (sheets | strings) - _ALWAYS_WHOLE - {workbook}
