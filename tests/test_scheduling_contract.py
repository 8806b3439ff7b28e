"""Issue 11 through the public contract only: documents applied with `honeyframe apply`, the real code location
`honeyframe_dagster.definitions:defs` driven by Dagster's own scheduler and sensor daemon iterations under a frozen
clock (tests/scheduling/harness.py `evaluate`), and the
REST API reading the same Dagster instance (no servers). Dates are fixed in Dec 2026 and 2026's DST transitions,
whatever the wall clock says: nothing may depend on the frozen clock being ahead of the real one.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter, build_schedule_context
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from fastapi.testclient import TestClient

from tests.api.conftest import Api, make_tokens
from tests.conftest import PROJECTS_YAML, ApplyYaml
from tests.scheduling.harness import evaluate, set_status

UTC = dt.UTC
MINUTE, HOUR, DAY = dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)
SCHEDULED_FOR = "honeyframe/scheduled_for"
LOCATION = "honeyframe"
BASE = "/api/scheduler/scenarios"
STEP = "[{kind: run_python, recipe: score_inventory}]"


def scenario(name: str, trigger: str, enabled: bool = True, project: str = "acme-ops") -> str:
    return f"""
---
kind: Scenario
project: {project}
name: {name}
enabled: {str(enabled).lower()}
trigger: {trigger}
steps: {STEP}
"""


@contextmanager
def daemon(instance: DagsterInstance) -> Iterator[Any]:
    """The daemon's view of the real code location as the store now holds it (a fresh import: a reload)."""
    sys.modules.pop("honeyframe_dagster.definitions", None)
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="honeyframe_dagster.definitions", attribute="defs"), location_name=LOCATION
    )
    with create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as workspace:
        entry = workspace.create_request_context().get_code_location_entries()[LOCATION]
        assert entry.code_location is not None, entry.load_error
        yield workspace


def runs_of(instance: DagsterInstance, job: str) -> list[DagsterRun]:
    return sorted(instance.get_runs(RunsFilter(job_name=job)), key=lambda r: r.tags.get(SCHEDULED_FOR, ""))


def fired(instance: DagsterInstance, job: str) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(r.tags[SCHEDULED_FOR]) for r in runs_of(instance, job)]


def sensor_ticks(instance: DagsterInstance, workspace: Any, name: str) -> list[Any]:
    repository = next(iter(workspace.create_request_context().get_code_location(LOCATION).get_repositories().values()))
    remote = repository.get_sensor(name)
    return list(instance.get_ticks(remote.get_remote_origin_id(), remote.selector_id))


@contextmanager
def rest_api() -> Iterator[Api]:
    from api.main import create_app
    from honeyframe_dagster.settings import get_settings

    tokens = make_tokens(get_settings())
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield Api(client, tokens)


def by_name(api: Api, project: str = "acme-ops") -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in api.call("GET", BASE, project=project).json()["items"]}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


NIGHTLY = "{cron: '0 2 * * *'}"


def retrying(retry: str) -> str:
    return f"[{{kind: run_python, recipe: x, retry: {retry}}}]"


# --- the documents: every new field refused with its name when wrong ------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "steps", "named"),
    [
        ("{cron: '0 2 * * *', catchup: sometimes}", STEP, "trigger.catchup"),
        ("{interval_seconds: 3600, catchup: ALL}", STEP, "trigger.catchup"),
        ("{run_at: '2099-01-01T00:00:00Z', catchup: []}", STEP, "trigger.catchup"),
        ("{cron: '0 2 * * *', overlap: wait}", STEP, "trigger.overlap"),
        ("{upstream: {scenario: base}, overlap: cancel}", STEP, "trigger.overlap"),
        ("{run_at: '2099-01-01T00:00:00Z', overlap: null}", STEP, "trigger.overlap"),
        ("{interval_seconds: 3600, start_at: '2026-01-01T00:15:00'}", STEP, "trigger.start_at"),
        ("{cron: '0 2 * * *', start_at: '2026-01-01T00:15:00Z'}", STEP, "trigger.start_at"),
        ("{run_at: '2099-01-01T00:00:00Z', start_at: '2026-01-01T00:15:00Z'}", STEP, "trigger.start_at"),
        ("{run_at: '2020-12-24T18:00:00+01:00'}", STEP, "trigger.run_at"),
        ("{run_at: '2099-12-24T18:00:00'}", STEP, "trigger.run_at"),
        ("{run_at: '2099-12-24T18:00:00Z', interval_seconds: 3600}", STEP, "run_at"),
        (NIGHTLY, retrying("{max_retries: 11}"), "steps[0].retry.max_retries"),
        (NIGHTLY, retrying("{max_retries: -1}"), "steps[0].retry.max_retries"),
        (NIGHTLY, retrying("{max_retries: true}"), "steps[0].retry.max_retries"),
        (NIGHTLY, retrying("{max_retries: '3'}"), "steps[0].retry.max_retries"),
        (NIGHTLY, retrying("{delay_seconds: 0}"), "steps[0].retry.delay_seconds"),
        (
            NIGHTLY,
            "[{kind: run_python, recipe: x}, " + retrying("{delay_seconds: 3601}")[1:],
            "steps[1].retry.delay_seconds",
        ),
        (NIGHTLY, retrying("{backoff: random}"), "steps[0].retry.backoff"),
        (NIGHTLY, retrying("{jitter: 'yes'}"), "steps[0].retry.jitter"),
        (NIGHTLY, retrying("{retries: 2}"), "steps[0].retry.retries"),
    ],
)
def test_apply_refuses_each_bad_field_by_name_and_writes_nothing(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str], trigger: str, steps: str, named: str
) -> None:
    base = scenario("base", "{cron: '0 1 * * *'}")
    document = base + f"\n---\nkind: Scenario\nproject: acme-ops\nname: bad\ntrigger: {trigger}\nsteps: {steps}\n"
    capsys.readouterr()
    assert apply_yaml(document) != 0
    error = capsys.readouterr().err
    assert named in error and "nothing was applied" in error, error
    assert apply_yaml(base) == 0 and "applied 1" in capsys.readouterr().out  # base was not written before


def test_api_answers_422_naming_the_field(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply_yaml(PROJECTS_YAML) == 0
    recipe = {"kind": "run_python", "recipe": "score_inventory"}
    cases: list[tuple[dict[str, Any], list[dict[str, Any]], list[Any]]] = [
        ({"cron": "0 2 * * *", "catchup": "sometimes"}, [recipe], ["trigger", "catchup"]),
        ({"interval_seconds": 900, "overlap": "later"}, [recipe], ["trigger", "overlap"]),
        ({"interval_seconds": 900, "start_at": "2026-01-01T00:00:00"}, [recipe], ["trigger", "start_at"]),
        ({"cron": "0 2 * * *", "start_at": "2026-01-01T00:00:00Z"}, [recipe], ["trigger", "start_at"]),
        ({"run_at": "2020-01-01T00:00:00Z"}, [recipe], ["trigger", "run_at"]),
        ({"cron": "0 2 * * *"}, [{**recipe, "retry": {"max_retries": 11}}], ["steps", 0, "retry", "max_retries"]),
        ({"cron": "0 2 * * *"}, [{**recipe, "retry": {"delay_seconds": 0.5}}], ["steps", 0, "retry", "delay_seconds"]),
        ({"cron": "0 2 * * *"}, [{**recipe, "retry": {"backoff": "random"}}], ["steps", 0, "retry", "backoff"]),
        ({"cron": "0 2 * * *"}, [{**recipe, "retry": {"jitter": "maybe"}}], ["steps", 0, "retry", "jitter"]),
    ]
    with rest_api() as api:
        for trigger, steps, loc in cases:
            response = api.call("POST", BASE, json={"name": "bad", "trigger": trigger, "steps": steps})
            assert response.status_code == 422, (trigger, steps, response.text)
            locs = [item["loc"][1:] for item in response.json()["detail"]]
            assert loc in locs, (trigger, steps, response.json())
        assert by_name(api, "acme-sales") == {}  # nothing half-written
        good = api.call("POST", BASE, json={"name": "ok", "trigger": {"cron": "0 2 * * *"}, "steps": [recipe]})
        assert good.status_code == 201, good.text
        patched = api.call("PATCH", f"{BASE}/{good.json()['id']}", json={"trigger": {"run_at": "2001-01-01T00:00Z"}})
        assert patched.status_code == 422
        assert ["body", "trigger", "run_at"] in [item["loc"] for item in patched.json()["detail"]]


# --- the real code location under Dagster's scheduler and sensor daemons, with a frozen clock ----------------------

CREATED = dt.datetime(2026, 12, 1, 13, 49, 7, tzinfo=UTC)


def apply_at(apply_yaml: ApplyYaml, now: dt.datetime, text: str) -> None:
    with freeze_time(now):
        assert apply_yaml(text) == 0


def next_run_at(api: Api, now: dt.datetime, name: str, project: str = "acme-ops") -> dt.datetime | None:
    """What the API advertises at `now` (it reads Dagster's clock, frozen here as the daemon's is)."""
    with freeze_time(now):
        value = by_name(api, project)[name]["next_run_at"]
    return None if value is None else at(value)


def test_the_store_stamps_writes_with_the_clock_the_sensors_read(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance
) -> None:
    """A trigger's `updated_at` bounds what its sensor fires (instants before an enable never are): stamped from
    the wall clock while the sensors read Dagster's, the outcome of every test above would depend on the hour
    the suite runs at. Both a date years from today and one years back must come out as written."""
    stamped: list[dt.datetime] = []
    apply_at(apply_yaml, CREATED, PROJECTS_YAML)
    with rest_api() as api:
        for when, enabled in ((at("2031-03-04T05:06:07Z"), True), (at("2021-03-04T05:06:07Z"), False)):
            docs = PROJECTS_YAML + scenario("stamped", "{interval_seconds: 3600}", enabled=enabled)
            apply_at(apply_yaml, when, docs)
            stamped.append(at(by_name(api)["stamped"]["updated_at"]))
    assert stamped == [at("2031-03-04T05:06:07Z"), at("2021-03-04T05:06:07Z")]


def test_intervals_fire_on_their_grid_never_at_enable_and_next_run_at_is_what_fires(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance
) -> None:
    docs = PROJECTS_YAML + scenario("hourly", "{interval_seconds: 3600, overlap: allow}")
    docs += scenario("quarter", "{interval_seconds: 900, start_at: '2026-01-01T00:05:00+00:00', overlap: allow}")
    apply_at(apply_yaml, CREATED, docs)
    seen: dict[str, list[dt.datetime]] = {"hourly": [], "quarter": []}
    with rest_api() as api, daemon(dagster_instance) as workspace:
        evaluate(workspace, CREATED)  # the daemon sees the new triggers at once: nothing fires on enable
        assert dagster_instance.get_runs() == []
        now = CREATED
        for _ in range(8):
            predicted = {name: next_run_at(api, now, name) for name in seen}
            name = min(predicted, key=lambda n: predicted[n])  # type: ignore[arg-type,return-value]
            instant = predicted[name]
            assert instant is not None
            now = instant + dt.timedelta(seconds=20)
            evaluate(workspace, now)
            for other in seen:
                seen[other] = fired(dagster_instance, f"acme_ops__{other}")
            assert seen[name][-1] == instant
    assert seen["hourly"] == [at("2026-12-01T14:00:00Z"), at("2026-12-01T15:00:00Z")]
    assert seen["quarter"][:3] == [at(f"2026-12-01T{t}:00Z") for t in ("13:50", "14:05", "14:20")]


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        ("America/New_York", "2026-03-08", "2026-03-08T03:00:00-04:00"),  # 02:30 does not exist: 03:00
        ("America/New_York", "2026-11-01", "2026-11-01T02:30:00-05:00"),
        ("Europe/Berlin", "2026-03-29", "2026-03-29T03:00:00+02:00"),
        ("Europe/Berlin", "2026-10-25", "2026-10-25T02:30:00+01:00"),  # the ambiguous 02:30 runs once
        ("Australia/Sydney", "2026-10-04", "2026-10-04T03:00:00+11:00"),
        ("Australia/Sydney", "2026-04-05", "2026-04-05T02:30:00+10:00"),
    ],
)
def test_dst_next_run_at_equals_what_fires(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance, zone: str, day: str, expected: str
) -> None:
    """Through the transition night and the night after, with catchup all: an instant the API did not predict
    would show up as an extra run."""
    trigger = f"{{cron: '30 2 * * *', timezone: {zone}, catchup: all, overlap: allow}}"
    start = dt.datetime.fromisoformat(f"{day}T00:00:00").replace(tzinfo=ZoneInfo(zone)) - DAY
    apply_at(apply_yaml, start - HOUR, PROJECTS_YAML + scenario("night", trigger))
    with rest_api() as api, daemon(dagster_instance) as workspace:
        evaluate(workspace, start)
        now, predictions = start, []
        for _ in range(3):
            instant = next_run_at(api, now, "night")
            assert instant is not None
            predictions.append(instant)
            now = instant + dt.timedelta(seconds=20)
            evaluate(workspace, now)
            assert fired(dagster_instance, "acme_ops__night") == predictions
    assert at(expected) in predictions


def test_run_at_fires_once_then_completed_and_a_re_enable_does_not_fire_it_again(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance
) -> None:
    instant = at("2026-12-24T18:00:00+01:00")
    once = "{run_at: '2026-12-24T18:00:00+01:00'}"
    apply_at(apply_yaml, CREATED, PROJECTS_YAML + scenario("once", once))
    with rest_api() as api, daemon(dagster_instance) as workspace:
        evaluate(workspace, instant - HOUR)
        assert next_run_at(api, instant - HOUR, "once") == instant
        evaluate(workspace, instant + dt.timedelta(seconds=15))
        with freeze_time(instant + MINUTE):
            item = by_name(api)["once"]
        assert item["completed"] is True and item["next_run_at"] is None and item["last_fired_at"] is not None
        assert item["last_run"]["scheduled_for"] == "2026-12-24T17:00:00Z"
    # Disabled and enabled again through apply (a reload of the location), later: it stays done.
    apply_at(apply_yaml, instant + HOUR, scenario("once", once, enabled=False))
    apply_at(apply_yaml, instant + 2 * HOUR, scenario("once", once, enabled=True))
    with daemon(dagster_instance) as restarted:
        evaluate(restarted, instant + 3 * HOUR)
        evaluate(restarted, instant + 4 * HOUR)
    assert fired(dagster_instance, "acme_ops__once") == [instant]


def test_a_one_shot_missed_while_the_daemon_was_down_follows_its_catchup(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance
) -> None:
    instant = at("2026-12-24T17:00:00Z")
    docs = PROJECTS_YAML
    for catchup in ("none", "latest", "all"):
        docs += scenario(f"once-{catchup}", f"{{run_at: '{instant.isoformat()}', catchup: {catchup}}}")
    apply_at(apply_yaml, CREATED, docs)
    with daemon(dagster_instance) as workspace:
        evaluate(workspace, instant - DAY)
        evaluate(workspace, instant + 6 * HOUR)  # down across the instant
        evaluate(workspace, instant + 7 * HOUR)
    # The schedule's tick is decided by its scheduled time: its own instant, however late it is evaluated.
    assert fired(dagster_instance, "acme_ops__once_none") == [instant]
    assert fired(dagster_instance, "acme_ops__once_latest") == [instant]
    assert fired(dagster_instance, "acme_ops__once_all") == [instant]


def test_an_outage_of_a_start_at_interval_under_each_catchup(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance
) -> None:
    docs = PROJECTS_YAML
    for catchup in ("none", "latest", "all"):
        trigger = (
            f"{{interval_seconds: 7200, start_at: '2026-01-01T00:30:00+01:00', catchup: {catchup}, overlap: allow}}"
        )
        docs += scenario(f"every-{catchup}", trigger)
    apply_at(apply_yaml, CREATED, docs)
    with daemon(dagster_instance) as workspace:
        evaluate(workspace, CREATED)
        evaluate(workspace, at("2026-12-01T15:30:10Z"))  # on time
        evaluate(workspace, at("2026-12-02T00:00:00Z"))  # down from 15:31: 17:30, 19:30, 21:30, 23:30 missed
    on_time = [at("2026-12-01T15:30:00Z")]
    missed = [at(f"2026-12-01T{h}:30:00Z") for h in (17, 19, 21, 23)]
    # The one tick evaluated after the outage is 23:30's: its instant fires; `none` drops the ones before it (hours
    # beyond its misfire grace), `latest` too.
    assert fired(dagster_instance, "acme_ops__every_none") == on_time + missed[-1:]
    assert fired(dagster_instance, "acme_ops__every_latest") == on_time + missed[-1:]
    assert fired(dagster_instance, "acme_ops__every_all") == on_time + missed


def test_upstream_triggers_apply_their_overlap_policy(apply_yaml: ApplyYaml, dagster_instance: DagsterInstance) -> None:
    """The upstream succeeds twice while the first downstream run is still queued (the queue is paused)."""

    docs = PROJECTS_YAML + scenario("base", "{interval_seconds: 3600, overlap: allow}")
    for overlap in ("skip", "queue", "allow", "cancel_previous"):
        docs += scenario(f"after-{overlap}", f"{{upstream: {{scenario: base}}, overlap: {overlap}}}")
    apply_at(apply_yaml, CREATED, docs)
    with daemon(dagster_instance) as workspace:
        evaluate(workspace, CREATED)
        for hour in (14, 15):
            evaluate(workspace, CREATED.replace(hour=hour, minute=0, second=20))
            [run] = [
                r
                for r in runs_of(dagster_instance, "acme_ops__base")
                if r.tags[SCHEDULED_FOR].startswith(f"2026-12-01T{hour}")
            ]
            set_status(dagster_instance, run, DagsterRunStatus.STARTED)
            set_status(dagster_instance, run, DagsterRunStatus.SUCCESS)
            evaluate(workspace, CREATED.replace(hour=hour, minute=1))
        skipped = sensor_ticks(dagster_instance, workspace, "acme_ops__after_skip_sensor")
    statuses = {
        overlap: [r.status for r in runs_of(dagster_instance, f"acme_ops__after_{overlap}")]
        for overlap in ("skip", "queue", "allow", "cancel_previous")
    }
    queued, canceled = DagsterRunStatus.QUEUED, DagsterRunStatus.CANCELED
    assert statuses["skip"] == [queued]
    assert skipped[0].status == TickStatus.SKIPPED and "overlap: skip" in (skipped[0].skip_reason or "")
    assert statuses["queue"] == [queued, queued] and statuses["allow"] == [queued, queued]
    assert sorted(s.value for s in statuses["cancel_previous"]) == sorted([queued.value, canceled.value])


def test_disabling_cancels_the_runs_its_trigger_queued_and_says_how_many(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance
) -> None:
    docs = PROJECTS_YAML + scenario("busy", "{interval_seconds: 900, overlap: queue}")
    apply_at(apply_yaml, CREATED, docs + scenario("other", "{interval_seconds: 900, overlap: queue}"))
    with daemon(dagster_instance) as workspace:
        evaluate(workspace, CREATED)
        for minute in (60, 75, 90):
            evaluate(workspace, CREATED.replace(minute=0, second=20) + minute * MINUTE)
    assert len(fired(dagster_instance, "acme_ops__busy")) == 3
    with rest_api() as api:
        busy = by_name(api)["busy"]
        response = api.call("PATCH", f"{BASE}/{busy['id']}", project="acme-ops", json={"enabled": False})
        assert response.status_code == 200 and response.headers["X-Honeyframe-Canceled-Runs"] == "3"
        assert response.json()["next_run_at"] is None
    assert {r.status for r in runs_of(dagster_instance, "acme_ops__busy")} == {DagsterRunStatus.CANCELED}
    assert {r.status for r in runs_of(dagster_instance, "acme_ops__other")} == {DagsterRunStatus.QUEUED}


def test_one_evaluation_of_a_time_trigger_is_cheap(apply_yaml: ApplyYaml, dagster_instance: DagsterInstance) -> None:
    """A time trigger on a cron grid is a schedule, evaluated only at its ticks; one evaluation (here at a tick
    that is not due: nothing fires) must stay in the milliseconds. `pytest -s` prints the figure."""
    from honeyframe_dagster.definitions import load_definitions

    apply_at(apply_yaml, CREATED, PROJECTS_YAML + scenario("hourly", "{cron: '0 * * * *', overlap: skip}"))
    schedule = load_definitions().get_schedule_def("acme_ops__hourly_schedule")
    context = build_schedule_context(instance=dagster_instance, scheduled_execution_time=CREATED.replace(minute=0))
    with freeze_time(CREATED + MINUTE):
        started = time.perf_counter()
        for _ in range(200):
            result = schedule.evaluate_tick(context)
        per_call = (time.perf_counter() - started) / 200
    assert result.skip_message and "next instant 2026-12-01T14:00:00+00:00" in result.skip_message
    print(f"\none evaluation of a time trigger schedule (nothing due): {per_call * 1000:.2f} ms")
    assert per_call < 0.05
