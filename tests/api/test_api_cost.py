"""What a read costs follows the response, not the project: GET one reads one scenario (and what it refers to),
the list pages, and the API's job names are the factory's (SQLite and Postgres)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from honeyframe_dagster.boot import compile_stored
from honeyframe_dagster.dbt import load_manifest, recipe_names
from honeyframe_dagster.factory.plan import plan
from honeyframe_dagster.factory.planner import Planner
from honeyframe_dagster.model.naming import shard_of
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow, TemplateRow
from honeyframe_dagster.store.versions import load_compiled
from tests.api.conftest import Api

BASE = "/api/scheduler/scenarios"
STEPS = [{"kind": "run_recipe", "recipe": "mart_revenue"}]


def add_scenarios(store_url: str, project_id: str, names: list[str], **fields: Any) -> list[int]:
    """Rows written straight into the store (as a bulk load would), returning their ids."""
    defaults: dict[str, Any] = {"trigger": {"cron": "0 3 * * *"}, "steps": STEPS, "enabled": True, "parameters": {}}
    rows = [ScenarioRow(project_id=project_id, name=name, **{**defaults, **fields}) for name in names]
    with Session(get_engine(store_url)) as session, session.begin():
        session.add_all(rows)
        session.flush()
        ids = [row.id for row in rows]
    compile_stored(get_engine(store_url))  # as `honeyframe init` does after a bulk load
    return ids


@contextmanager
def counted_statements(store_url: str) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = get_engine(store_url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def statements_for_get_one(api: Api, store_url: str, scenario_id: int) -> list[str]:
    api.call("GET", f"{BASE}/{scenario_id}")  # warm: the token's last-use write happens at most once a minute
    with counted_statements(store_url) as statements:
        response = api.call("GET", f"{BASE}/{scenario_id}")
    assert response.status_code == 200, response.text
    return statements


def test_get_one_reads_one_scenario_whatever_the_project_size(api: Api, store_url: str) -> None:
    [first] = add_scenarios(store_url, "acme-sales", ["first"])
    small = statements_for_get_one(api, store_url, first)
    add_scenarios(store_url, "acme-sales", [f"bulk {n}" for n in range(300)])
    large = statements_for_get_one(api, store_url, first)
    assert len(large) == len(small) <= 12, large
    # No statement reads the project's scenarios with their documents (trigger, steps): only the naming columns.
    whole = [
        s
        for s in large
        if "scenarios.steps" in s and "scenarios.project_id" in s.partition("WHERE")[2] and "scenarios.name =" not in s
    ]
    assert whole == [], whole


def tables_read(statements: list[str]) -> list[str]:
    """The table each statement reads from (its first FROM), in order."""
    found = []
    for statement in statements:
        match = re.search(r"\bFROM\s+\(?\s*(?:SELECT .*? FROM\s+)?\"?(\w+)", statement, re.S)
        found.append(match.group(1) if match else statement.split()[0])
    return found


# Every request: its token, then its project (api/deps.py).
REQUEST_CHECKS = ["api_tokens", "projects"]


def test_the_list_and_get_one_read_the_catalog_once_per_table(api: Api, store_url: str) -> None:
    """The list reads the project's scenarios (with their current versions' hashes, a join), the project with the
    projects whose job names share its own (one LIKE, with its pause) and the SLA misses: one statement per table.
    GET one reads its scenario, those projects, the job names of their scenarios (the names depend on them) and its
    SLA misses. Versions this process has compiled are not read again (the warm-up read them)."""
    ids = add_scenarios(store_url, "acme-sales", [f"s{n}" for n in range(5)])
    expected = {
        BASE: ["scenarios", "projects", "sla_misses"],
        f"{BASE}/{ids[2]}": ["scenarios", "projects", "scenarios", "sla_misses"],
    }
    for path, catalog in expected.items():
        warm = api.call("GET", path)  # and the token's last-use write, at most once a minute
        with counted_statements(store_url) as statements:
            response = api.call("GET", path)
        assert response.status_code == 200 and response.json() == warm.json(), response.text
        assert tables_read(statements) == REQUEST_CHECKS + catalog, statements
    # The scenario's names and pause are as the list shows them.
    listed = {item["id"]: item for item in api.call("GET", BASE).json()["items"]}
    one = api.call("GET", f"{BASE}/{ids[2]}").json()
    assert {key: value for key, value in one.items() if key != "runs"} == listed[ids[2]]


def test_list_pages_ordered_by_id_with_total(api: Api, store_url: str) -> None:
    add_scenarios(store_url, "acme-sales", [f"s{n}" for n in range(7)])
    everything = api.call("GET", BASE).json()
    ids = [item["id"] for item in everything["items"]]
    assert ids == sorted(ids) and everything["total"] == len(ids) >= 7
    assert everything["page"] is None and everything["page_size"] is None  # the legacy contract: the whole list

    second = api.call("GET", BASE, params={"page": 2, "page_size": 3}).json()
    assert [item["id"] for item in second["items"]] == ids[3:6]
    assert (second["total"], second["page"], second["page_size"]) == (len(ids), 2, 3)
    first = api.call("GET", BASE, params={"page_size": 3}).json()
    assert [item["id"] for item in first["items"]] == ids[:3] and first["page"] == 1
    past = api.call("GET", BASE, params={"page": 99, "page_size": 3}).json()
    assert past["items"] == [] and past["total"] == len(ids)
    assert api.call("GET", BASE, params={"page": 1, "page_size": 500}).json()["items"] == everything["items"]
    by_kind = api.call("GET", BASE, params={"step_kind": "run_recipe", "page_size": 2}).json()
    assert len(by_kind["items"]) == 2 and by_kind["total"] >= 7

    for params in ({"page": 0}, {"page_size": 0}, {"page_size": 501}, {"page": "x"}):
        refused = api.call("GET", BASE, params=params)
        assert refused.status_code == 422, (params, refused.text)
        assert refused.json()["detail"][0]["loc"] == ["query", next(iter(params))]


def factory_names(
    store_url: str, recipes: frozenset[str], shards: int
) -> dict[int, tuple[str, str | None, str | None]]:
    """(job name, trigger name, error) of every scenario, as the code locations build them."""
    found = {}
    with Session(get_engine(store_url)) as session:
        projects = list(session.scalars(select(ProjectRow.id)))
        for index in range(shards):
            shard = (index, shards) if shards > 1 else None
            served = [p for p in projects if shard is None or shard_of(p, shards) == index]
            for entry in plan(load_compiled(session, ScenarioRow.project_id.in_(served)), recipes, shard):
                found[entry.record.id] = (entry.job_name, entry.trigger_name, entry.error)
    return found


def api_names(store_url: str, recipes: frozenset[str], shards: int) -> dict[int, tuple[str, str | None, str | None]]:
    planner = Planner(recipes, shards)
    found = {}
    with Session(get_engine(store_url)) as session:
        for scenario_id, project_id in session.execute(select(ScenarioRow.id, ScenarioRow.project_id)):
            one = planner.plan_one(session, project_id, scenario_id).entries[scenario_id]
            listed = planner.plan(session, project_id).entries[scenario_id]
            assert (one.job_name, one.trigger_name, one.error) == (listed.job_name, listed.trigger_name, listed.error)
            found[scenario_id] = (one.job_name, one.trigger_name, one.error)
    return found


def test_job_names_and_errors_are_the_factorys(api: Api, store_url: str) -> None:
    """Clashing identifiers across projects (`a-b`, `a--b`), a template and a scenario of the same name, a suffix
    that is itself a name, and upstream chains to broken or cyclic scenarios."""
    with Session(get_engine(store_url)) as session, session.begin():
        for project_id in ("a-b", "a--b", "a-b-c", "ab"):
            session.add(ProjectRow(id=project_id, name=project_id, owner_email="o@example.com"))
        template = {"slug": "x-y", "display_name": "X", "trigger": {"cron": "0 1 * * *"}, "steps": STEPS}
        session.add(TemplateRow(slug="x-y", display_name="X", document=template))
    add_scenarios(store_url, "a--b", ["x y"])
    [older] = add_scenarios(store_url, "a-b", ["X Y"])
    add_scenarios(store_url, "a-b", ["x-y"], template_slug="x-y")
    add_scenarios(store_url, "a-b", [f"x y {older}", "x_y"])
    add_scenarios(store_url, "ab", ["x y"])
    add_scenarios(store_url, "a-b-c", ["x y"])
    add_scenarios(store_url, "a-b", ["broken"], steps=[{"kind": "sync_dataset", "dataset": "nowhere"}])
    add_scenarios(store_url, "a-b", ["after broken"], trigger={"upstream": {"scenario": "broken"}})
    add_scenarios(store_url, "a-b", ["after after"], trigger={"upstream": {"scenario": "after broken"}})
    add_scenarios(store_url, "a-b", ["loop 1"], trigger={"upstream": {"scenario": "loop 2"}})
    add_scenarios(store_url, "a-b", ["loop 2"], trigger={"upstream": {"scenario": "loop 1"}})
    add_scenarios(store_url, "a-b", ["on template"], trigger={"upstream": {"scenario": "x-y"}})
    recipes = recipe_names(load_manifest())
    for shards in (1, 2, 3):
        expected = factory_names(store_url, recipes, shards)
        assert api_names(store_url, recipes, shards) == expected
    # The API's own planner serves one location (HONEYFRAME_CODE_LOCATIONS unset).
    expected = factory_names(store_url, recipes, 1)
    names = [name for name, _, _ in expected.values()]
    assert "a_b__x_y" in names and any(name.startswith("a_b__x_y_") for name in names)
    errors = [error for _, _, error in expected.values() if error]
    assert any("upstream 'after broken' is broken" in error for error in errors), errors

    # Through HTTP, as the list and GET one show them.
    with Session(get_engine(store_url)) as session:
        ids = list(session.scalars(select(ScenarioRow.id).where(ScenarioRow.project_id == "a-b")))
    listed = api.call("GET", BASE, project="a-b").json()["items"]
    assert {item["id"]: item["dagster"]["job_name"] for item in listed} == {i: expected[i][0] for i in ids}
    for scenario_id in ids:
        one = api.call("GET", f"{BASE}/{scenario_id}", project="a-b").json()
        assert (one["dagster"]["job_name"], one["error"]) == (expected[scenario_id][0], expected[scenario_id][2])


def test_api_workers_only_check_a_migrated_store(store_url: str, monkeypatch: Any) -> None:
    """`honeyframe up` migrates before it starts uvicorn's workers: their start-up must not migrate again (several
    at once would race on the schema), while a lone API process still migrates a fresh store."""
    from honeyframe_dagster.boot import open_store
    from honeyframe_dagster.settings import get_settings
    from honeyframe_dagster.store import schema

    migrations: list[str] = []
    upgrade = schema.upgrade
    monkeypatch.setattr(schema, "upgrade", lambda engine: migrations.append(str(engine.url)) or upgrade(engine))
    open_store(get_settings())
    assert len(migrations) == 1 and schema.is_current(get_engine(store_url))
    open_store(get_settings())
    open_store(get_settings())
    assert len(migrations) == 1
