"""Rate limits: requests per token (HONEYFRAME_RATE_LIMIT_PER_MINUTE) and failed admin logins per client address
(HONEYFRAME_ADMIN_LOGINS_PER_MINUTE) answer 429 with Retry-After; health is exempt.

Before them, any number of requests went through, and 300 wrong admin logins in 12 s met no slowdown (issue 17).
"""

from __future__ import annotations

import re

import pytest

from api.limits import WINDOW_SECONDS, SlidingWindow
from tests.api.conftest import Api
from tests.api.test_admin import MATRIX, log_in

SCENARIOS = "/api/scheduler/scenarios"


class Clock:
    def __init__(self, now: float = 1_000 * WINDOW_SECONDS) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_sliding_window_counts_the_last_minute_and_says_when_to_retry() -> None:
    clock = Clock()
    window = SlidingWindow(3, clock)
    assert [window.take("a") for _ in range(3)] == [None, None, None]
    wait = window.take("a")
    assert wait is not None and 1 <= wait <= 60
    assert window.take("b") is None  # keys are counted apart
    clock.now += wait - 1
    assert window.take("a") is not None  # refused requests do not count, and the wait was not too long ...
    clock.now += 1
    assert window.take("a") is None  # ... nor too short
    # Events leave the count one by one, a minute after each.
    clock = Clock()
    window = SlidingWindow(10, clock)
    for _ in range(5):
        assert window.take("a") is None
    clock.now += 30
    for _ in range(5):
        assert window.take("a") is None
    assert window.take("a") == 30
    clock.now += 30
    assert [window.take("a") for _ in range(5)] == [None] * 5
    assert window.take("a") == 30
    # Failures are counted by `hit` and checked by `retry_after`, which counts nothing.
    logins = SlidingWindow(2, clock)
    assert logins.retry_after("10.0.0.1") is None
    logins.hit("10.0.0.1")
    logins.hit("10.0.0.1")
    assert logins.retry_after("10.0.0.1") is not None and logins.retry_after("10.0.0.2") is None
    # Idle keys are dropped: memory stays bounded by the keys of the last minute or two.
    clock.now += 2 * WINDOW_SECONDS
    assert logins.retry_after("10.0.0.3") is None and set(logins._events) == {"10.0.0.3"}


@pytest.fixture
def limited(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    """The API of `api` restarted with a limit of 5 requests per token and 3 failed logins per minute."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    monkeypatch.setenv("HONEYFRAME_RATE_LIMIT_PER_MINUTE", "5")
    monkeypatch.setenv("HONEYFRAME_ADMIN_LOGINS_PER_MINUTE", "3")
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield Api(client, api.tokens)


def test_a_token_past_its_rate_limit_gets_429_with_retry_after(limited: Api) -> None:
    api = limited
    assert [api.call("GET", SCENARIOS).status_code for _ in range(5)] == [200] * 5
    refused = api.call("GET", SCENARIOS)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "HONEYFRAME_RATE_LIMIT_PER_MINUTE" in refused.json()["detail"] and "'admin'" in refused.json()["detail"]
    assert set(refused.json()) == {"detail"}  # the usual error body
    assert api.call("POST", SCENARIOS, json={}).status_code == 429  # writes too, before the body is looked at
    # Another token has its own count; health and an unknown token are not counted against anyone.
    assert api.call("GET", SCENARIOS, token="sales").status_code == 200
    assert api.call("GET", SCENARIOS, token="hft_unknown").status_code == 401
    health = [api.call("GET", "/api/pipeline/scheduler/health", token=None, project=None) for _ in range(10)]
    assert {response.status_code for response in health} == {503}  # no heartbeat in this test; never 429


def test_the_admin_pages_count_against_the_tokens_limit(limited: Api) -> None:
    api = limited
    assert log_in(api, "admin").status_code == 303  # logging in is not a request with the token
    for _ in range(5):
        assert api.client.get(MATRIX).status_code == 200
    refused = api.client.get(MATRIX)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert api.call("GET", SCENARIOS).status_code == 429  # the same token's count


def test_failed_admin_logins_per_address_are_limited(limited: Api) -> None:
    api = limited
    assert [log_in(api, "hft_wrong").status_code for _ in range(3)] == [401] * 3
    refused = log_in(api, "admin")  # even the right token waits: no more guesses from this address
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert re.search(r"try again in \d+ s", refused.text)
    assert "hf_admin_session=" not in refused.headers.get("set-cookie", "")


def test_successful_logins_do_not_count(limited: Api) -> None:
    api = limited
    for _ in range(5):
        assert log_in(api, "sales").status_code == 303


def test_openapi_declares_429_with_retry_after(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path.endswith("/health"):
                assert "429" not in operation["responses"], (method, path)
                continue
            response = operation["responses"]["429"]
            assert "Retry-After" in response["headers"], (method, path)
