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
