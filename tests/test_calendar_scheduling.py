"""Issue 20, calendars through Dagster's own scheduler under frozen clocks: German public holidays (Christmas, the
second day of Christmas, New Year's Day) do not fire, are not caught up after an outage, say why in the tick, and
`next_run_at` and the preview skip them. The real code location built from `honeyframe apply`d documents, driven by
the scheduler and sensor daemon iterations (tests/scheduling/harness.py `evaluate`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dagster import DagsterInstance
from dagster._core.test_utils import freeze_time

from tests.conftest import PROJECTS_YAML, ApplyYaml
from tests.scheduling.harness import evaluate
from tests.test_scheduling_contract import LOCATION, apply_at, at, daemon, fired, next_run_at, rest_api, scenario

DAY = dt.timedelta(days=1)
CALENDAR = """
---
kind: Calendar
id: de-holidays
holidays: {country: DE, subdivision: BE}
"""
# 06:00 in Berlin (05:00 UTC in winter), every day; a 10-minute interval as a sensor (seconds in start_at).
MORNING = "{cron: '0 6 * * *', timezone: Europe/Berlin, calendar: de-holidays, catchup: all, overlap: allow}"
SENSOR = (
    "{interval_seconds: 86400, start_at: '2026-01-01T05:00:30+00:00', timezone: Europe/Berlin, "
    "calendar: de-holidays, catchup: all, overlap: allow}"
)
DOCS = PROJECTS_YAML + CALENDAR + scenario("morning", MORNING) + scenario("sensed", SENSOR)
START = at("2026-12-21T12:00:00Z")


def days(*texts: str, clock: str = "05:00:00") -> list[dt.datetime]:
    return [at(f"{text}T{clock}Z") for text in texts]


def skip_reasons(instance: DagsterInstance, workspace: Any, name: str) -> list[str]:
    repository = next(iter(workspace.create_request_context().get_code_location(LOCATION).get_repositories().values()))
    remote = repository.get_schedule(name) if repository.has_schedule(name) else repository.get_sensor(name)
    ticks = instance.get_ticks(remote.get_remote_origin_id(), remote.selector_id)
    return [tick.skip_reason for tick in ticks if tick.skip_reason]


def test_christmas_and_new_year_do_not_fire_and_the_ticks_say_which_holiday(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance
) -> None:
    apply_at(apply_yaml, START, DOCS)
    with rest_api() as api, daemon(dagster_instance) as workspace:
        evaluate(workspace, START)
        now = at("2026-12-22T05:01:00Z")
        while now < at("2027-01-03T06:00:00Z"):
            evaluate(workspace, now)
            now += DAY
        # The API's next_run_at skips them too: after Dec 24's run comes Dec 27's, after Dec 31's Jan 2's.
        assert next_run_at(api, at("2026-12-24T05:01:00Z"), "morning") == at("2026-12-27T05:00:00Z")
        assert next_run_at(api, at("2026-12-31T05:01:00Z"), "morning") == at("2027-01-02T05:00:00Z")
        assert next_run_at(api, at("2026-12-24T05:01:00Z"), "sensed") == at("2026-12-27T05:00:30Z")
        reasons = skip_reasons(dagster_instance, workspace, "acme_ops__morning_schedule")
        sensed = skip_reasons(dagster_instance, workspace, "acme_ops__sensed_sensor")
    working = ("2026-12-22", "2026-12-23", "2026-12-24", "2026-12-27", "2026-12-28", "2026-12-29", "2026-12-30")
    working += ("2026-12-31", "2027-01-02", "2027-01-03")
    assert fired(dagster_instance, "acme_ops__morning") == days(*working)
    assert fired(dagster_instance, "acme_ops__sensed") == days(*working, clock="05:00:30")
    assert reasons[::-1] == [
        "skipped 2026-12-25T05:00:00+00:00 (calendar 'de-holidays' excludes 2026-12-25: public holiday Christmas Day "
        "(DE-BE))",
        "skipped 2026-12-26T05:00:00+00:00 (calendar 'de-holidays' excludes 2026-12-26: public holiday Second Day of "
        "Christmas (DE-BE))",
        "skipped 2027-01-01T05:00:00+00:00 (calendar 'de-holidays' excludes 2027-01-01: public holiday New Year's Day "
        "(DE-BE))",
    ]
    # Dagster keeps one tick for a run of skipped sensor evaluations: the latest says New Year's Day.
    assert "excludes 2027-01-01: public holiday New Year's Day (DE-BE)" in sensed[0]


def test_holidays_missed_during_an_outage_are_not_caught_up(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance
) -> None:
    """The daemon is down from Dec 24 07:00 to Dec 27 06:00:20 (Berlin): catch-up `all` runs no holiday."""
    apply_at(apply_yaml, START, DOCS)
    with daemon(dagster_instance) as workspace:
        evaluate(workspace, START)
        for day in ("22", "23", "24"):
            evaluate(workspace, at(f"2026-12-{day}T05:01:00Z"))
        evaluate(workspace, at("2026-12-27T05:00:20Z"))
        evaluate(workspace, at("2026-12-27T05:01:00Z"))
    before = ("2026-12-22", "2026-12-23", "2026-12-24")
    assert fired(dagster_instance, "acme_ops__morning") == days(*before, "2026-12-27")
    assert fired(dagster_instance, "acme_ops__sensed") == days(*before, "2026-12-27", clock="05:00:30")


def test_a_calendar_edit_writes_new_versions_and_the_trigger_follows(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance
) -> None:
    """Dec 28 excluded by an edit of the calendar alone: the scenarios get a version that says so (`calendar.exclude`)
    and, reloaded, skip it."""
    start = at("2026-12-26T12:00:00Z")
    apply_at(apply_yaml, start, DOCS)
    apply_at(apply_yaml, start + dt.timedelta(hours=1), CALENDAR + 'exclude: ["2026-12-28"]\n')
    with rest_api() as api:
        with freeze_time(start + dt.timedelta(hours=2)):
            items = {
                s["name"]: s for s in api.call("GET", "/api/scheduler/scenarios", project="acme-ops").json()["items"]
            }
            versions = api.call(
                "GET", f"/api/scheduler/scenarios/{items['morning']['id']}/versions", project="acme-ops"
            )
        assert items["morning"]["version"] == 2
        assert versions.json()["items"][0]["changes"] == ["calendar.exclude"]
        assert next_run_at(api, at("2026-12-27T05:01:00Z"), "morning") == at("2026-12-29T05:00:00Z")
    with daemon(dagster_instance) as workspace:
        evaluate(workspace, start + dt.timedelta(hours=2))
        for day in ("27", "28", "29"):
            evaluate(workspace, at(f"2026-12-{day}T05:01:00Z"))
    assert fired(dagster_instance, "acme_ops__morning") == days("2026-12-27", "2026-12-29")
