"""What request bodies share: unknown fields are refused, so server-owned ones cannot sneak in;
so are NUL characters and non-finite numbers (see `workflow.content.Strict`)."""

from __future__ import annotations

from workflow import content


class Strict(content.Strict):
    """The base of every request body."""
