"""What request bodies share: unknown fields are refused, so server-owned ones cannot sneak in."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
