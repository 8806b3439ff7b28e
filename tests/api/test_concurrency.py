"""Many requests at once (issue 12): no request waits in a worker thread for a pooled connection, so requests that
hold connections while they wait for a thread can never stall the others (SQLite and Postgres)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest
from sqlalchemy import event

from api.main import DB_SLOTS, ROUTE_THREADS
from honeyframe_dagster.reconciler import Change, Outcome
from honeyframe_dagster.store.engine import POOL, get_engine
from tests.api.conftest import Api

BASE = "/api/scheduler/scenarios"
STEPS = [{"kind": "run_recipe", "recipe": "mart_revenue"}]


def test_concurrent_reads_hold_at_most_the_slots(api: Api, store_url: str) -> None:
    created = api.call("POST", BASE, json={"name": "busy", "trigger": {"cron": "0 3 * * *"}, "steps": STEPS})
    assert created.status_code == 201, created.text
    scenario_id = created.json()["id"]
    engine = get_engine(store_url)
    held, most = 0, 0

    def checkout(*_: Any) -> None:
        nonlocal held, most
        held += 1
        most = max(most, held)

    def checkin(*_: Any) -> None:
        nonlocal held
        held -= 1

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    paths = [BASE if n % 2 else f"{BASE}/{scenario_id}" for n in range(6 * (DB_SLOTS + ROUTE_THREADS))]
    try:
        with ThreadPoolExecutor(max_workers=3 * (DB_SLOTS + ROUTE_THREADS)) as pool:
            statuses = list(pool.map(lambda path: api.call("GET", path).status_code, paths))
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert statuses == [200] * len(paths)
    # Every request waited for a slot on the event loop: never more connections out than the pool keeps.
    assert 1 < most <= DB_SLOTS <= POOL["pool_size"]


def test_a_request_that_finds_no_free_slot_answers_503_then_heals(api: Api, monkeypatch: Any) -> None:
    """Slots held past the timeout (a store that hangs): 503 with Retry-After, as an exhausted pool answered."""
    from api import deps

    monkeypatch.setattr(deps, "SLOT_TIMEOUT_SECONDS", 0.2)
    portal = api.client.portal
    assert portal is not None
    slots = api.client.app.state.db_slots  # type: ignore[attr-defined]
    holders = [object() for _ in range(DB_SLOTS)]
    for holder in holders:
        portal.call(slots.acquire_on_behalf_of, holder)
    try:
        refused = api.call("GET", BASE)
        assert refused.status_code == 503 and refused.headers["Retry-After"], refused.text
        assert "request" in refused.json()["detail"] and "slot" not in refused.text.lower()
    finally:
        for holder in holders:
            portal.call(slots.release_on_behalf_of, holder)  # type: ignore[arg-type]
    assert api.call("GET", BASE).status_code == 200


class SlowDagster:
    """Dagster as slow as the test likes: the reconciler's post-write work (reloads, trigger statuses) and run
    launches wait until `go`; each records what the request held meanwhile."""

    def __init__(self, api: Api, store_url: str) -> None:
        self.api, self.engine = api, get_engine(store_url)
        self.waiting, self.go = threading.Event(), threading.Event()
        self.seen: list[tuple[int, int]] = []

    def _wait(self) -> None:
        app, portal = self.api.client.app, self.api.client.portal
        assert portal is not None
        free = portal.call(lambda: app.state.db_slots.available_tokens)  # type: ignore[attr-defined]
        self.seen.append((self.engine.pool.checkedout(), int(free)))  # type: ignore[attr-defined]
        self.waiting.set()
        assert self.go.wait(30)

    def after_write(self, change: Change) -> Outcome:
        self._wait()
        return Outcome()

    def launch(self, location: str, job_name: str, tags: dict[str, str], config: dict[str, Any]) -> str:
        self._wait()
        return "slow-run"

    def trigger_statuses(self, triggers: Any) -> dict[str, str]:  # what the answers show: read at once
        return {}

    def latest_runs(self, project_id: str, ids: Any) -> dict[int, Any]:
        return {}

    def close(self) -> None:
        pass


@pytest.mark.parametrize("write", ["patch", "run now"])
def test_a_write_that_waits_on_dagster_holds_no_connection_and_no_slot(
    api: Api, store_url: str, monkeypatch: Any, write: str
) -> None:
    """With a single store slot, a write whose Dagster call hangs does not hold up the store: it waits with its
    work committed, its connection back in the pool and its slot free, and another request is served meanwhile."""
    from api import deps

    created = api.call("POST", BASE, json={"name": "slow", "trigger": {"cron": "0 3 * * *"}, "steps": STEPS})
    scenario_id = created.json()["id"]
    monkeypatch.setattr(deps, "SLOT_TIMEOUT_SECONDS", 5.0)  # before the fix: the GET answered 503 after this
    app, portal = api.client.app, api.client.portal
    assert portal is not None
    app.state.db_slots = portal.call(lambda: anyio.CapacityLimiter(1))  # type: ignore[attr-defined]
    slow = SlowDagster(api, store_url)
    app.state.reconciler = app.state.dagster = slow  # type: ignore[attr-defined]
    method, path, body = ("PATCH", "", {"enabled": False}) if write == "patch" else ("POST", "/run", None)
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(api.call, method, f"{BASE}/{scenario_id}{path}", json=body)
        assert slow.waiting.wait(30), waiting.result()
        try:
            served = api.call("GET", BASE, params={"page_size": 5})
        finally:
            slow.go.set()
        written = waiting.result(timeout=30)
    assert served.status_code == 200, served.text
    assert written.status_code in (200, 202), written.text
    assert slow.seen == [(0, 1)]  # while Dagster was waited on: no connection out, the one slot free
    if write == "patch":
        assert written.headers["X-Honeyframe-Dagster-Sync"] == "ok" and written.json()["enabled"] is False
    else:
        assert written.json()["run_id"] == "slow-run"
