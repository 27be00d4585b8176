"""`accord config show` and bad settings at start: one line naming the variable, exit 1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from api.cli import app
from workflow.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield None
    get_settings.cache_clear()


def test_config_show_masks_secrets_and_reports_unknown_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACCORD_SMTP_PASSWORD", "hunter2-but-longer")
    monkeypatch.setenv("ACCORD_DATABASE_URL", "postgresql://accord:s3cret@db.internal/accord")
    monkeypatch.setenv("ACCORD_SMPT_HOST", "typo.example")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "ACCORD_SMTP_PASSWORD=********" in lines
    assert "ACCORD_DATABASE_URL=postgresql://accord:***@db.internal/accord" in lines
    assert "# ignored: ACCORD_SMPT_HOST names no setting" in lines
    assert "hunter2" not in result.output
    assert "s3cret" not in result.output


def test_a_bad_setting_stops_any_command_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_MAIL_BACKEND", "pigeon")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid configuration: ACCORD_MAIL_BACKEND")
