from __future__ import annotations

import pytest
from pydantic import ValidationError

from chatkit import Settings


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATKIT_DATABASE_URL", "postgresql://u@db/chat")
    monkeypatch.setenv("CHATKIT_PORT", "9000")
    monkeypatch.setenv("CHATKIT_ALLOWED_ORIGINS", '["https://shop.example.com/"]')
    monkeypatch.setenv("CHATKIT_BOT_PATH", "/etc/chatkit/bot.yaml")
    settings = Settings()
    assert str(settings.bot_path) == "/etc/chatkit/bot.yaml"
    assert settings.database_url == "postgresql://u@db/chat"
    assert settings.port == 9000
    assert settings.allowed_origins == ["https://shop.example.com"]


def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATKIT_PORT", "9000")
    assert Settings(port=9100).port == 9100


@pytest.mark.parametrize(("field", "value", "message"), [
    ("database_url", "mysql://x/y", "database_url must be"),
    ("prefix", "chat", "prefix must look like"),
    ("prefix", "/a//b", "prefix must look like"),
    ("port", 0, "greater than or equal to 1"),
    ("secret_key", "short", "at least 32 characters"),
    ("allowed_origins", ["shop.example.com"], "is not an origin"),
    ("log_level", "loud", "log_level"),
    ("no_such_setting", 1, "Extra inputs are not permitted"),
    ("attachment_max_bytes", 101 * 1024 * 1024, "less than or equal"),
    ("attachment_url_ttl", 10, "greater than or equal to 60"),
])
def test_bad_values_are_named(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**{field: value})  # type: ignore[arg-type]


def test_prefix_trailing_slash_is_dropped() -> None:
    assert Settings(prefix="/support/").prefix == "/support"
