"""Step tests talk to HTTP servers on 127.0.0.1, which the connector policy allows only when listed."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", "127.0.0.1")
