"""Concurrent writes on SQLite and Postgres: uniqueness races answer 409 (never 500), and the upstream-cycle check
holds when two PATCHes race (issue 9: 14×500 / 4×500 on same-name creates, 9×500 on first enables, a stored cycle
in 7 of 8 rounds on Postgres)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy.orm import Session

from honeyframe_dagster.model.documents import Scenario
from honeyframe_dagster.model.scenario import upstream_name
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.catalog import load_catalog
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.writes import ApplyError, apply_documents
from tests.api.conftest import Api

BASE = "/api/scheduler/scenarios"
TEMPLATES = "/api/scheduler/templates"
RECIPE = {"kind": "run_recipe", "recipe": "mart_revenue"}


def at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls in parallel threads, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def test_same_name_creates_answer_one_201_and_409s(api: Api) -> None:
    body = {"name": "nightly", "trigger": {"interval_seconds": 3600}, "steps": [RECIPE]}
    responses = at_once([lambda: api.call("POST", BASE, json=body)] * 20)
    counts = statuses(responses)
    print(f"20 concurrent same-name creates: {dict(counts)}")
    assert counts == {201: 1, 409: 19}, [r.text for r in responses if r.status_code not in (201, 409)]
    conflict = next(r for r in responses if r.status_code == 409).json()["detail"]
    assert "nightly" in conflict and "acme-sales" in conflict
    assert [s["name"] for s in api.call("GET", BASE).json()["items"]] == ["nightly"]


def test_first_time_enables_and_template_creates_never_500(api: Api) -> None:
    path = f"{TEMPLATES}/nightly-mart-refresh/enable/acme-ops"
    body = {"parameters": {"mart_recipe": "mart_ops_kpis"}}
    enables = at_once([lambda: api.call("POST", path, project=None, json=body)] * 10)
    counts = statuses(enables)
    print(f"10 concurrent first-time enables: {dict(counts)}")
    # Serialized per project, the first creates the cell and the others update it: enabling is idempotent.
    assert counts == {200: 10}, [r.text for r in enables if r.status_code != 200]
    assert len({r.json()["id"] for r in enables}) == 1
    cells = [s for s in api.call("GET", BASE, project="acme-ops").json()["items"] if s["template_slug"]]
    assert len(cells) == 1 and cells[0]["enabled"] is True

    template = {
        "slug": "weekly-kpis",
        "display_name": "Weekly KPIs",
        "trigger": {"cron": "0 7 * * 1"},
        "steps": [{"kind": "run_recipe", "recipe": "mart_ops_kpis"}],
    }
    creates = at_once([lambda: api.call("POST", TEMPLATES, project=None, json=template)] * 8)
    counts = statuses(creates)
    print(f"8 concurrent creates of one template: {dict(counts)}")
    assert counts[201] == 1 and counts[201] + counts[200] + counts[409] == 8, [r.text for r in creates]
    slugs = [t["slug"] for t in api.call("GET", TEMPLATES, project=None).json()["items"]]
    assert slugs.count("weekly-kpis") == 1


def test_crossed_upstream_patches_never_store_a_cycle(api: Api) -> None:
    rounds, outcomes = 6, Counter[str]()
    for round_ in range(rounds):
        a = create(api, f"a{round_}", {"interval_seconds": 3600})
        b = create(api, f"b{round_}", {"interval_seconds": 3600})
        responses = at_once([upstream_patch(api, a, f"b{round_}"), upstream_patch(api, b, f"a{round_}")])
        counts = statuses(responses)
        # Serialized: the first PATCH wins, the second sees it and is refused as a cycle.
        assert counts == {200: 1, 422: 1}, [r.text for r in responses]
        refused = next(r for r in responses if r.status_code == 422).json()["detail"][0]
        assert refused["loc"] == ["body", "trigger", "upstream", "scenario"] and "cycle" in refused["msg"]
        outcomes["one PATCH won, the other was refused as a cycle"] += 1
        assert not stored_cycle(f"a{round_}", f"b{round_}")
        # Both stay manageable: the dependent can be disabled and deleted, then its upstream.
        dependent, upstream = (a, b) if responses[0].status_code == 200 else (b, a)
        assert api.call("PATCH", f"{BASE}/{dependent}", json={"enabled": False}).status_code == 200
        assert api.call("DELETE", f"{BASE}/{upstream}").status_code == 409
        assert api.call("DELETE", f"{BASE}/{dependent}").status_code == 204
        assert api.call("DELETE", f"{BASE}/{upstream}").status_code == 204
    print(f"{rounds} rounds of crossed upstream PATCHes: {dict(outcomes)}")


def test_apply_documents_is_serialized_with_the_api(api: Api) -> None:
    """`honeyframe apply` goes through the same lock: crossed upstreams from two apply calls never both land."""
    create(api, "x", {"interval_seconds": 3600})
    create(api, "y", {"interval_seconds": 3600})
    engine = get_engine(get_settings().store_url)
    results: list[str] = []

    def apply(name: str, upstream: str) -> None:
        document = Scenario(
            project="acme-sales", name=name, trigger={"upstream": {"scenario": upstream}}, steps=[RECIPE]
        )
        with Session(engine) as session, session.begin():
            try:
                apply_documents(session, [document], None)
                results.append("applied")
            except ApplyError as exc:
                session.rollback()
                results.append(str(exc))

    barrier = threading.Barrier(2)
    threads = [
        threading.Thread(target=lambda n=n, u=u: (barrier.wait(), apply(n, u))) for n, u in (("x", "y"), ("y", "x"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results)[0] == "applied" and "cycle" in sorted(results)[1], results
    assert not stored_cycle("x", "y")


def upstream_patch(api: Api, scenario_id: int, upstream: str) -> Callable[[], httpx.Response]:
    return lambda: api.call("PATCH", f"{BASE}/{scenario_id}", json={"trigger": {"upstream": {"scenario": upstream}}})


def create(api: Api, name: str, trigger: dict[str, Any]) -> int:
    response = api.call("POST", BASE, json={"name": name, "trigger": trigger, "steps": [RECIPE]})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def stored_cycle(a: str, b: str) -> bool:
    with Session(get_engine(get_settings().store_url)) as session:
        catalog = load_catalog(session, ["acme-sales"])
    records = {name: catalog.scenario_named("acme-sales", name) for name in (a, b)}
    ups = {name: upstream_name(record, catalog) for name, record in records.items() if record is not None}
    return ups.get(a) == b and ups.get(b) == a
