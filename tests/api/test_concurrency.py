"""Many requests at once (issue 12): no request waits in a worker thread for a pooled connection, so requests that
hold connections while they wait for a thread can never stall the others (SQLite and Postgres)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import event

from api.main import DB_SLOTS, ROUTE_THREADS
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
