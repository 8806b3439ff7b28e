"""Settings are read once per process, and document-named variables only through `Settings.secret`."""

from __future__ import annotations

from pathlib import Path

import pytest

from honeyframe_dagster.settings import get_settings


def test_settings_are_read_once_until_the_cache_is_cleared(hf_home: Path) -> None:
    assert get_settings() is get_settings()
    before = get_settings()
    get_settings.cache_clear()
    assert get_settings() is not before


def test_monkeypatched_variables_are_seen_at_once(hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/conftest.py clears the cache at each setenv/delenv, as a process started with that environment."""
    assert get_settings().default_timezone == "UTC"
    monkeypatch.setenv("HONEYFRAME_DEFAULT_TIMEZONE", "Europe/Berlin")
    assert get_settings().default_timezone == "Europe/Berlin"


def test_secret_reads_only_the_names_a_document_may_name(hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HONEYFRAME_SECRET_SHOP_DB", "sqlite:///shop.db")
    monkeypatch.setenv("HONEYFRAME_AGENT_BASE_URL", "https://llm.example.com/v1")
    monkeypatch.setenv("HONEYFRAME_SMTP_PASSWORD", "hunter2")
    settings = get_settings()
    assert settings.secret("HONEYFRAME_SECRET_SHOP_DB") == "sqlite:///shop.db"
    assert settings.secret("HONEYFRAME_SECRET_UNSET") is None
    # The documented names are the settings themselves (HONEYFRAME_AGENT_BASE_URL is agent_base_url).
    assert settings.secret("HONEYFRAME_AGENT_BASE_URL") == settings.agent_base_url == "https://llm.example.com/v1"
    assert settings.secret("HONEYFRAME_PLATFORM_URL") is None
    for name in ("HONEYFRAME_SMTP_PASSWORD", "HONEYFRAME_DATABASE_URL", "PATH"):
        with pytest.raises(ValueError, match="may name only HONEYFRAME_SECRET_"):
            settings.secret(name)


def test_dagster_home_and_the_mail_connector_come_from_the_settings(
    hf_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("HONEYFRAME_SMTP_HOST", raising=False)
    settings = get_settings()
    assert settings.dagster_home is None and settings.dagster_home_dir == settings.home_dir / "dagster"
    assert not settings.smtp_configured
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("HONEYFRAME_SMTP_HOST", "127.0.0.1")
    assert get_settings().dagster_home_dir == tmp_path and get_settings().smtp_configured
