"""What the scheduler did and does, read from a real Dagster instance without servers: last run, last fire,
completed, next_run_at, tick history, queued runs canceled on disable/delete, and the run-now body's checks.

The API runs against a Dagster instance (DAGSTER_HOME) and a webserver URL where nothing listens: reads and
cancellations use the instance; reloads fail and say so in `X-Honeyframe-Dagster-Sync`. The webserver paths
(launching, reloading) are in test_dagster.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.definitions.selector import InstigatorSelector
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.scheduler.instigation import InstigatorType, TickData, TickStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import SENSOR_NAME_TAG
from dagster._utils.error import SerializableErrorInfo
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.present import next_run_at
from honeyframe_dagster.boot import boot
from honeyframe_dagster.dagster_client import REPOSITORY_NAME
from honeyframe_dagster.model.tags import SCHEDULED_FOR_TAG
from honeyframe_dagster.model.triggers import Trigger
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.tables import ScenarioRow
from tests.api.conftest import SEED_YAML, Api, free_port, make_tokens
from tests.conftest import ApplyYaml

BASE = "/api/scheduler/scenarios"
RECIPE = {"kind": "run_recipe", "recipe": "stg_orders"}


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsterInstance]:
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = DagsterInstance.get()
    yield instance
    instance.dispose()


@pytest.fixture
def offline_api(
    store_url: str, apply_yaml: ApplyYaml, dagster_home: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    """The API with a Dagster instance but no webserver answering at its URL."""
    from api.main import create_app

    monkeypatch.setenv("HONEYFRAME_DAGSTER_URL", f"http://127.0.0.1:{free_port()}")
    assert apply_yaml(SEED_YAML) == 0
    tokens = make_tokens(get_settings())
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield Api(client, tokens)


def add_run(
    instance: DagsterInstance,
    scenario: dict[str, Any],
    status: DagsterRunStatus,
    tags: dict[str, str] | None = None,
    project: str = "acme-sales",
) -> str:
    """A run of the scenario's job in Dagster's run storage, as a trigger or the API would have created it."""
    run_id, job = str(uuid.uuid4()), scenario["dagster"]["job_name"]
    location = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=1, location_name="honeyframe")
    origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, REPOSITORY_NAME), job)
    tags = {"honeyframe/scenario_id": str(scenario["id"]), "honeyframe/project_id": project, **(tags or {})}
    instance.add_run(DagsterRun(job_name=job, run_id=run_id, status=status, tags=tags, remote_job_origin=origin))
    return run_id


def create(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "s", "trigger": {"cron": "0 3 * * *"}, "steps": [RECIPE], **fields}
    response = api.call("POST", BASE, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_last_run_last_fire_and_completed_come_from_dagster_in_one_batch(
    offline_api: Api, dagster_home: DagsterInstance
) -> None:
    nightly = create(offline_api, name="nightly")
    assert nightly["last_run"] is None and nightly["last_fired_at"] is None and nightly["completed"] is False
    instant = "2026-11-30T03:00:00+00:00"
    fired = add_run(
        dagster_home,
        nightly,
        DagsterRunStatus.SUCCESS,
        {SENSOR_NAME_TAG: nightly["dagster"]["trigger_name"], SCHEDULED_FOR_TAG: instant},
    )
    manual = add_run(dagster_home, nightly, DagsterRunStatus.QUEUED, {"honeyframe/trigger": "manual"})
    add_run(dagster_home, nightly, DagsterRunStatus.QUEUED, project="acme-ops")  # same id, other project: ignored

    run_at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3)
    once = create(offline_api, name="once", trigger={"run_at": run_at.isoformat()})
    assert once["next_run_at"] == run_at.isoformat().replace("+00:00", "Z") and once["completed"] is False
    add_run(
        dagster_home,
        once,
        DagsterRunStatus.STARTED,
        {SENSOR_NAME_TAG: once["dagster"]["trigger_name"], SCHEDULED_FOR_TAG: run_at.isoformat()},
    )
    idle = create(offline_api, name="idle", trigger={"interval_seconds": 900})

    items = {s["name"]: s for s in offline_api.call("GET", BASE).json()["items"]}
    assert items["nightly"]["last_run"] == {
        "run_id": manual,
        "status": "QUEUED",
        "trigger": "manual",
        "scheduled_for": None,
    }
    # The trigger's last run, not the newer manual one, is the last fire.
    fired_record = dagster_home.get_run_record_by_id(fired)
    assert fired_record is not None
    assert dt.datetime.fromisoformat(items["nightly"]["last_fired_at"]) == fired_record.create_timestamp
    assert items["once"]["completed"] is True and items["once"]["next_run_at"] is None
    assert items["once"]["last_run"]["trigger"] == "sensor" and items["once"]["last_run"]["status"] == "STARTED"
    assert items["idle"]["last_run"] is None and items["idle"]["last_fired_at"] is None
    assert not items["idle"]["completed"]
    # One scenario reads the same.
    detail = offline_api.call("GET", f"{BASE}/{once['id']}").json()
    assert detail["completed"] is True and detail["last_fired_at"] is not None
    # Moving the one-shot instant re-arms it.
    later = (run_at + dt.timedelta(days=1)).isoformat()
    moved = offline_api.call("PATCH", f"{BASE}/{once['id']}", json={"trigger": {"run_at": later}}).json()
    assert moved["completed"] is False and moved["next_run_at"] is not None
    assert idle["id"] not in {once["id"], nightly["id"]}


def test_next_run_at_for_every_trigger_kind(offline_api: Api) -> None:
    interval = create(
        offline_api, name="quarter", trigger={"interval_seconds": 900, "start_at": "2026-01-01T00:05:00Z"}
    )
    upstream = create(offline_api, name="after", trigger={"upstream": {"scenario": "quarter"}})
    disabled = create(offline_api, name="off", enabled=False)
    nxt = dt.datetime.fromisoformat(interval["next_run_at"])
    now = dt.datetime.now(dt.UTC)
    # On the start_at grid (…:05, :20, :35, :50), within one interval from now.
    assert nxt.minute % 15 == 5 and nxt.second == 0 and now < nxt <= now + dt.timedelta(seconds=900)
    assert upstream["next_run_at"] is None and disabled["next_run_at"] is None


def test_next_run_at_presenter_is_the_next_instant_unless_disabled_or_completed() -> None:
    def spec(trigger: dict[str, Any], enabled: bool = True) -> Any:
        """What the presenter reads of a ScenarioSpec."""
        return SimpleNamespace(
            trigger=Trigger.model_validate(trigger), timezone="America/New_York", enabled=enabled, calendar=None
        )

    now = dt.datetime(2026, 3, 8, 6, 0, tzinfo=dt.UTC)  # 01:00 EST, the night clocks spring forward
    # 02:30 does not exist that night: Dagster runs it at 03:00 EDT (07:00 UTC).
    assert next_run_at(spec({"cron": "30 2 * * *"}), now, False) == dt.datetime(2026, 3, 8, 7, 0, tzinfo=dt.UTC)
    assert next_run_at(spec({"cron": "30 2 * * *"}), now, True) is None
    assert next_run_at(spec({"cron": "30 2 * * *"}, enabled=False), now, False) is None
    assert next_run_at(spec({"run_at": "2026-03-01T00:00:00Z"}), now, False) is None
    assert next_run_at(spec({"run_at": "2026-03-09T00:00:00Z"}), now, False) == dt.datetime(2026, 3, 9, tzinfo=dt.UTC)
    assert next_run_at(spec({"upstream": {"scenario": "x"}}), now, False) is None


def tick(
    instance: DagsterInstance, scenario: dict[str, Any], status: TickStatus, when: dt.datetime, **data: Any
) -> None:
    name = scenario["dagster"]["trigger_name"]
    selector = InstigatorSelector(location_name="honeyframe", repository_name=REPOSITORY_NAME, name=name)
    instance.create_tick(
        TickData(
            instigator_origin_id=f"origin-{name}",
            instigator_name=name,
            instigator_type=InstigatorType.SENSOR,
            status=status,
            timestamp=when.timestamp(),
            selector_id=selector.get_id(),
            **data,
        )
    )


def test_ticks_list_fired_skipped_and_failed_evaluations_newest_first(
    offline_api: Api, dagster_home: DagsterInstance
) -> None:
    scenario = create(offline_api, name="hourly", trigger={"interval_seconds": 3600})
    other = create(offline_api, name="other", trigger={"interval_seconds": 3600})
    start = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    tick(dagster_home, scenario, TickStatus.SUCCESS, start, run_ids=["run-a"])
    reason = "skipped 2026-12-01T11:00:00+00:00: run run-a (STARTED) of this scenario is still queued or in progress"
    tick(dagster_home, scenario, TickStatus.SKIPPED, start + dt.timedelta(hours=1), skip_reason=reason)
    secret = "could not connect to postgresql://svc:hunter2@db/prod"
    error = SerializableErrorInfo(message=secret, stack=["  File x"], cls_name="OperationalError")
    tick(dagster_home, scenario, TickStatus.FAILURE, start + dt.timedelta(hours=2), error=error)
    tick(dagster_home, scenario, TickStatus.STARTED, start + dt.timedelta(hours=3))  # still evaluating
    tick(dagster_home, other, TickStatus.SUCCESS, start, run_ids=["run-other"])

    response = offline_api.call("GET", f"{BASE}/{scenario['id']}/ticks")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(t["outcome"], t["run_ids"]) for t in items] == [("failed", []), ("skipped", []), ("fired", ["run-a"])]
    assert items[2]["time"].startswith("2026-12-01T10:00:00") and items[2]["reason"] is None
    assert items[1]["reason"] == reason
    assert "OperationalError" in items[0]["reason"] and "hunter2" not in response.text

    limited = offline_api.call("GET", f"{BASE}/{scenario['id']}/ticks", params={"limit": 1}).json()["items"]
    assert [t["outcome"] for t in limited] == ["failed"]
    fired = offline_api.call("GET", f"{BASE}/{scenario['id']}/ticks", params={"outcome": "fired"}).json()["items"]
    assert [t["run_ids"] for t in fired] == [["run-a"]]
    for params in ({"limit": 0}, {"limit": 201}, {"outcome": "maybe"}):
        bad = offline_api.call("GET", f"{BASE}/{scenario['id']}/ticks", params=params)
        assert bad.status_code == 422, params
    assert offline_api.call("GET", f"{BASE}/{scenario['id']}/ticks", project="acme-ops").status_code == 404


def canceled_reason(instance: DagsterInstance, run_id: str) -> str | None:
    for entry in instance.all_logs(run_id):
        if entry.dagster_event is not None and entry.dagster_event.event_type_value == "PIPELINE_CANCELED":
            return entry.dagster_event.message
    return None


def test_disable_and_delete_cancel_queued_runs_and_say_how_many(
    offline_api: Api, dagster_home: DagsterInstance
) -> None:
    scenario = create(offline_api, name="busy")
    queued = [add_run(dagster_home, scenario, DagsterRunStatus.QUEUED) for _ in range(3)]
    started = add_run(dagster_home, scenario, DagsterRunStatus.STARTED)
    elsewhere = add_run(dagster_home, create(offline_api, name="bystander"), DagsterRunStatus.QUEUED)

    disabled = offline_api.call("PATCH", f"{BASE}/{scenario['id']}", json={"enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert disabled.headers["X-Honeyframe-Canceled-Runs"] == "3"
    assert disabled.headers["X-Honeyframe-Dagster-Sync"] == "failed"  # no webserver to reload: said, not hidden
    for run_id in queued:
        run = dagster_home.get_run_by_id(run_id)
        assert run is not None and run.status == DagsterRunStatus.CANCELED
        assert canceled_reason(dagster_home, run_id) == (
            f"Honeyframe: scenario {scenario['id']} 'busy' of project 'acme-sales' was disabled"
        )
    for run_id in (started, elsewhere):  # in progress goes on; other scenarios untouched
        run = dagster_home.get_run_by_id(run_id)
        assert run is not None and run.status in (DagsterRunStatus.STARTED, DagsterRunStatus.QUEUED)

    # Already disabled: nothing is disabled, nothing canceled (a manual run of a disabled scenario stays).
    manual = add_run(dagster_home, scenario, DagsterRunStatus.QUEUED)
    again = offline_api.call("PATCH", f"{BASE}/{scenario['id']}", json={"enabled": False})
    assert "X-Honeyframe-Canceled-Runs" not in again.headers
    enabling = offline_api.call("PATCH", f"{BASE}/{scenario['id']}", json={"enabled": True})
    assert "X-Honeyframe-Canceled-Runs" not in enabling.headers

    deleted = offline_api.call("DELETE", f"{BASE}/{scenario['id']}")
    assert deleted.status_code == 204 and deleted.headers["X-Honeyframe-Canceled-Runs"] == "1"
    assert "was deleted" in (canceled_reason(dagster_home, manual) or "")


def test_matrix_disable_cancels_the_cells_queued_runs(offline_api: Api, dagster_home: DagsterInstance) -> None:
    enable = "/api/scheduler/templates/nightly-mart-refresh/enable/acme-sales"
    cell = offline_api.call("POST", enable, project=None, json={"parameters": {"mart_recipe": "mart_revenue"}}).json()
    queued = add_run(dagster_home, cell, DagsterRunStatus.QUEUED)
    disabled = offline_api.call("POST", enable.replace("enable", "disable"), project=None)
    assert disabled.status_code == 200 and disabled.headers["X-Honeyframe-Canceled-Runs"] == "1"
    run = dagster_home.get_run_by_id(queued)
    assert run is not None and run.status == DagsterRunStatus.CANCELED


def test_apply_disabling_a_scenario_cancels_its_queued_runs(
    apply_yaml: ApplyYaml, projects: None, dagster_home: DagsterInstance, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("HONEYFRAME_DAGSTER_URL", f"http://127.0.0.1:{free_port()}")
    document = """
kind: Scenario
project: acme-ops
name: nightly
enabled: {enabled}
trigger: {{cron: "0 2 * * *"}}
steps: [{{kind: run_recipe, recipe: stg_products}}]
"""
    assert apply_yaml(document.format(enabled="true")) == 0
    with Session(boot(get_settings())) as session:
        scenario_id = session.scalar(select(ScenarioRow.id).where(ScenarioRow.name == "nightly"))
    scenario = {"id": scenario_id, "dagster": {"job_name": "acme_ops__nightly"}}
    queued = add_run(dagster_home, scenario, DagsterRunStatus.QUEUED, project="acme-ops")
    assert apply_yaml(document.format(enabled="true")) == 0  # unchanged: nothing canceled
    assert dagster_home.get_run_by_id(queued).status == DagsterRunStatus.QUEUED  # type: ignore[union-attr]
    assert apply_yaml(document.format(enabled="false")) == 0
    assert "canceled 1 queued run(s) of the 1 scenario(s) this apply disabled" in capsys.readouterr().out
    assert dagster_home.get_run_by_id(queued).status == DagsterRunStatus.CANCELED  # type: ignore[union-attr]
    assert "disabled by apply" in (canceled_reason(dagster_home, queued) or "")


@pytest.mark.parametrize(
    ("trigger", "scheduled_for", "message"),
    [
        ({"cron": "0 3 * * *"}, "2099-01-01T03:00:00+00:00", "is in the future"),
        # acme-sales is on Europe/Berlin time: its 03:00 is 02:00 UTC in winter.
        ({"cron": "0 3 * * *"}, "2026-11-30T03:00:00+00:00", "latest instant before it is 2026-11-30T02:00:00+00:00"),
        ({"cron": "0 3 * * *"}, "2026-11-30T03:00:00", "needs a UTC offset"),
        ({"interval_seconds": 3600, "start_at": "2026-01-01T00:15:00Z"}, "2026-11-30T03:00:00Z", "not an instant"),
        ({"upstream": {"scenario": "base"}}, "2026-11-30T03:00:00Z", "has no instants"),
    ],
)
def test_a_rerun_must_name_a_past_instant_of_the_trigger(
    offline_api: Api, trigger: dict[str, Any], scheduled_for: str, message: str
) -> None:
    create(offline_api, name="base")
    scenario = create(offline_api, name="rerun", trigger=trigger)
    response = offline_api.call("POST", f"{BASE}/{scenario['id']}/run", json={"scheduled_for": scheduled_for})
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "scheduled_for"] and message in item["msg"]
    extra = offline_api.call("POST", f"{BASE}/{scenario['id']}/run", json={"scheduled_for": None, "x": 1})
    assert extra.status_code == 422
