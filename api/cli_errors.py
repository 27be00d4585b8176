"""The CLI's own refusal, shared by its command modules (printed on one line, exit 1)."""

from __future__ import annotations


class CliError(Exception):
    """A refusal of the CLI itself (unknown name, unreadable file, schema not current)."""
