"""Configuration: every ACCORD_* setting is validated when first read, a bad one is named in
one line, a `.env` file is read (real variables win), and a misspelt variable is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from workflow.settings import Settings, configuration_error, unknown_variables


def _refusal(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    return configuration_error(caught.value)


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"ACCORD_DATABASE_URL": "mysql://db/accord"}, "ACCORD_DATABASE_URL: mysql is not"),
        ({"ACCORD_DATABASE_URL": "not a url"}, "ACCORD_DATABASE_URL: not a database URL"),
        ({"ACCORD_SECRET_KEY": "short"}, "ACCORD_SECRET_KEY: must be at least 32 characters"),
        ({"ACCORD_MAIL_BACKEND": "pigeon"}, "ACCORD_MAIL_BACKEND: Input should be 'file'"),
        ({"ACCORD_BASE_URL": "accord.example"}, "ACCORD_BASE_URL: must be an http"),
        ({"ACCORD_SMTP_PORT": "70000"}, "ACCORD_SMTP_PORT: Input should be less than"),
        ({"ACCORD_MAIL_FROM": "nobody"}, "ACCORD_MAIL_FROM: not an email address"),
        (
            {"ACCORD_BASE_URL": "https://accord.example", "ACCORD_COOKIE_SECURE": "false"},
            "ACCORD_COOKIE_SECURE cannot be false when ACCORD_BASE_URL is https",
        ),
        (
            {"ACCORD_DISPATCH_LEASE_SECONDS": "10"},
            "ACCORD_DISPATCH_LEASE_SECONDS must be at least 4 x ACCORD_SMTP_TIMEOUT_SECONDS",
        ),
    ],
)
def test_a_bad_setting_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], says: str
) -> None:
    message = _refusal(monkeypatch, **variables)
    assert message.startswith("invalid configuration: ")
    assert says in message
    assert "\n" not in message


def test_every_bad_setting_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refusal(monkeypatch, ACCORD_SMTP_PORT="0", ACCORD_MAIL_BACKEND="pigeon")
    assert "ACCORD_SMTP_PORT" in message
    assert "ACCORD_MAIL_BACKEND" in message


def test_https_turns_secure_cookies_on_unless_said_otherwise() -> None:
    assert Settings(base_url="https://accord.example").cookies_secure
    assert not Settings(base_url="http://127.0.0.1:8000").cookies_secure
    assert Settings(base_url="http://127.0.0.1:8000", cookie_secure=True).cookies_secure


def test_a_dotenv_file_is_read_and_real_variables_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "ACCORD_MAIL_BACKEND=console\nACCORD_BASE_URL=https://accord.example/\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCORD_MAIL_BACKEND", "smtp")
    settings = Settings()
    assert settings.base_url == "https://accord.example"
    assert settings.mail_backend == "smtp"


def test_a_misspelt_variable_is_reported_and_the_test_knobs_are_not() -> None:
    environ = {
        "ACCORD_SMPT_HOST": "mail.example",
        "ACCORD_SMTP_HOST": "mail.example",
        "ACCORD_TEST_POSTGRES_URL": "postgresql://localhost/test",
        "HOME": "/root",
    }
    assert unknown_variables(environ) == ["ACCORD_SMPT_HOST"]
