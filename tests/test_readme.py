"""The README's promises stay true."""

from __future__ import annotations

from pathlib import Path

from states import LIFECYCLE
from states.diagram import mermaid

README = Path(__file__).parent.parent / "README.md"


def test_the_readme_opens_with_the_two_commands() -> None:
    lines = README.read_text().splitlines()
    assert lines[3].startswith("make run ")
    assert lines[4].startswith("make test ")


def test_the_readme_shows_the_current_lifecycle_diagram() -> None:
    assert mermaid(LIFECYCLE) in README.read_text()
