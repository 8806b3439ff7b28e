"""An in-process code location of triggers for the scheduling tests (see harness.py).

`HONEYFRAME_TEST_TRIGGERS` maps a scenario name to {"id", "trigger", "enabled", "updated_at", "timezone"}; each
becomes a one-step job `job_<name>` and its trigger (a schedule `job_<name>_schedule` or a sensor
`job_<name>_sensor`), with the location's catch-up sensor, exactly as the factory builds them.
"""

from __future__ import annotations

import datetime as dt
import json
import os

from dagster import Definitions, ScheduleDefinition, SensorDefinition

from honeyframe_dagster.factory.jobs import build_job
from honeyframe_dagster.factory.triggers import build_trigger, catchup_sensor
from honeyframe_dagster.model.documents import Project
from honeyframe_dagster.model.naming import trigger_name
from honeyframe_dagster.model.scenario import ScenarioRecord, ScenarioSpec
from honeyframe_dagster.model.schedule_grid import trigger_kind
from honeyframe_dagster.model.triggers import Trigger
from honeyframe_dagster.steps.run_python.model import RunPythonStep

PROJECT = Project(id="acme-sales", name="Acme Sales", owner_email="ana@acme.example")


def spec(name: str, entry: dict) -> ScenarioSpec:
    trigger = Trigger.model_validate(entry["trigger"])
    updated = dt.datetime.fromisoformat(entry["updated_at"]) if entry.get("updated_at") else None
    record = ScenarioRecord(entry["id"], PROJECT.id, name, entry.get("enabled", True), updated_at=updated)
    steps = (RunPythonStep(kind="run_python", recipe="noop"),)
    # `updated_at`: when the trigger was last changed or enabled, the version's `since`.
    timezone = entry.get("timezone", "UTC")
    return ScenarioSpec(
        record, PROJECT, trigger, timezone, steps, PROJECT.owner_email, entry.get("version", 0), updated
    )


def name_of(name: str, entry: dict) -> str:
    """The trigger's name: `job_<name>_schedule` or `job_<name>_sensor`, as model/naming.py names it."""
    scenario = spec(name, entry)
    return trigger_name(f"job_{name}", trigger_kind(scenario.trigger, scenario.timezone))


def build(scenarios: dict | None = None) -> Definitions:
    jobs, schedules, sensors, scheduled = [], [], [], []
    if scenarios is None:
        scenarios = json.loads(os.environ.get("HONEYFRAME_TEST_TRIGGERS", "{}"))
    for name, entry in scenarios.items():
        scenario = spec(name, entry)
        job = build_job(scenario, f"job_{name}")
        jobs.append(job)
        trigger = build_trigger(scenario, job, name_of(name, entry), None)
        if isinstance(trigger, ScheduleDefinition):
            schedules.append(trigger)
            scheduled.append((scenario, job))
        else:
            sensors.append(trigger)
    drain = catchup_sensor(scheduled)
    all_sensors: list[SensorDefinition] = [*sensors, drain] if drain is not None else sensors
    return Definitions(jobs=jobs, schedules=schedules, sensors=all_sensors)


defs = build()
