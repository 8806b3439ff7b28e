"""One truth on a real stack (code server + webserver): whatever set a trigger's status before, `honeyframe apply`
makes Dagster follow `enabled`; a stop in Dagster's UI is adopted by the store within a reconcile pass, recorded as
a `dagster-ui` version, and survives later edits of other fields."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from honeyframe_dagster.cli import main as honeyframe
from honeyframe_dagster.dagster_client import DagsterClient, TriggerRef
from honeyframe_dagster.settings import get_settings
from tests.api.conftest import SEED_YAML, Api, Stack, make_tokens

BASE = "/api/scheduler/scenarios"
SCENARIO = """
kind: Scenario
project: acme-sales
name: nightly sync
enabled: {enabled}
trigger: {{cron: "0 3 * * *"}}
steps: [{{kind: run_recipe, recipe: stg_orders}}]
"""


@pytest.fixture(scope="module")
def fast_api(stack: Stack) -> Iterator[Api]:
    """The API on the stack's store, its reconciler passing every second (the default is 30 s)."""
    from api.main import create_app

    seed = stack.root / "reconcile-seed.yaml"
    seed.write_text(SEED_YAML)
    assert honeyframe(["apply", str(seed)]) == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HONEYFRAME_RECONCILE_SECONDS", "1")
        get_settings.cache_clear()
        tokens = make_tokens(get_settings())
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            yield Api(client, tokens)
    get_settings.cache_clear()


def apply(root: Path, enabled: bool) -> None:
    path = root / "scenario.yaml"
    path.write_text(SCENARIO.format(enabled=str(enabled).lower()))
    assert honeyframe(["apply", str(path)]) == 0


def the_scenario(api: Api) -> dict[str, Any]:
    items = api.call("GET", BASE).json()["items"]
    return next(item for item in items if item["name"] == "nightly sync")


def dagster_status(stack: Stack, scenario: dict[str, Any]) -> str:
    client = DagsterClient(stack.dagster_url)
    name = scenario["dagster"]["trigger_name"]
    ref = TriggerRef("honeyframe", name, "schedule" if name.endswith("_schedule") else "sensor")
    return client.trigger_status_from_code(ref)[0]


def set_in_dagster_ui(stack: Stack, scenario: dict[str, Any], running: bool) -> None:
    """What a click on the schedule's toggle in Dagster's UI sends: startSchedule / stopRunningSchedule."""
    name = scenario["dagster"]["trigger_name"]
    ref = TriggerRef("honeyframe", name, "schedule" if name.endswith("_schedule") else "sensor")
    DagsterClient(stack.dagster_url).set_trigger_status(ref, running)


def eventually(check: Any, seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_apply_and_dagsters_ui_and_the_api_show_one_state(fast_api: Api, stack: Stack) -> None:
    apply(stack.root, enabled=True)
    scenario = the_scenario(fast_api)
    assert scenario["dagster"]["trigger_status"] == "RUNNING"
    # A status stored explicitly in Dagster (as any API write or a UI click leaves it) ...
    set_in_dagster_ui(stack, scenario, True)
    # ... does not keep a disabled scenario firing: apply `enabled: false` stops it, `true` starts it again.
    apply(stack.root, enabled=False)
    assert dagster_status(stack, scenario) == "STOPPED"
    assert the_scenario(fast_api)["enabled"] is False and the_scenario(fast_api)["next_run_at"] is None
    apply(stack.root, enabled=True)
    assert dagster_status(stack, scenario) == "RUNNING"

    # Stopped in Dagster's UI: the store follows within a reconcile pass, as a version by `dagster-ui`.
    set_in_dagster_ui(stack, scenario, False)
    stopped = eventually(lambda: not the_scenario(fast_api)["enabled"])
    assert stopped, "the API never showed the stop made in Dagster's UI"
    versions = fast_api.call("GET", f"{BASE}/{scenario['id']}/versions").json()["items"]
    assert versions[0]["created_by"] == "dagster-ui" and versions[0]["changes"] == ["enabled"]
    health = fast_api.call("GET", "/api/pipeline/scheduler/health", token=None, project=None).json()
    assert "out_of_sync" in health

    # A later edit of another field keeps it as the UI set it.
    patched = fast_api.call("PATCH", f"{BASE}/{scenario['id']}", json={"trigger": {"cron": "0 4 * * *"}})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert dagster_status(stack, scenario) == "STOPPED"
    time.sleep(2.5)  # more reconcile passes: nothing flips back
    assert dagster_status(stack, scenario) == "STOPPED" and the_scenario(fast_api)["enabled"] is False

    # Started again in the UI: adopted the same way.
    set_in_dagster_ui(stack, scenario, True)
    assert eventually(lambda: the_scenario(fast_api)["enabled"]), "the start in Dagster's UI was not adopted"


def test_a_failed_status_change_is_repaired_by_the_next_pass(fast_api: Api, stack: Stack) -> None:
    """The store says disabled while Dagster still runs the trigger (the call after the commit was lost): the
    periodic pass stops it, the store stays the truth."""
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from honeyframe_dagster.store.engine import get_engine
    from honeyframe_dagster.store.tables import ScenarioRow

    apply(stack.root, enabled=True)
    scenario = the_scenario(fast_api)
    assert eventually(lambda: dagster_status(stack, scenario) == "RUNNING")
    with Session(get_engine(get_settings().store_url)) as session, session.begin():
        session.execute(update(ScenarioRow).where(ScenarioRow.id == scenario["id"]).values(enabled=False))
    assert eventually(lambda: dagster_status(stack, scenario) == "STOPPED"), "drift was not repaired"
    assert the_scenario(fast_api)["enabled"] is False
