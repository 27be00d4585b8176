"""The request's session: routes never clean up after a command; the command frame and the
session dependency do, so a refused command leaves nothing behind for the next request."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROUTES = [*(ROOT / "api/pages").glob("*.py"), *(ROOT / "api/routers").glob("*.py")]


def test_no_route_rolls_back_by_hand() -> None:
    assert ROUTES
    offenders = [
        f"{path}:{n}"
        for path in ROUTES
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bsession\.rollback\(\)", line)
    ]
    assert offenders == []
