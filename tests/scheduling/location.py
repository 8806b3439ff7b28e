"""An in-process code location of trigger sensors for the scheduling tests (see harness.py).

`HONEYFRAME_TEST_TRIGGERS` maps a scenario name to {"id", "trigger", "enabled", "updated_at", "timezone"}; each
becomes a one-step job and its trigger sensor, exactly as the factory builds them.
"""

from __future__ import annotations

import datetime as dt
import json
import os

from dagster import Definitions

from honeyframe_dagster.factory.definitions import resources
from honeyframe_dagster.factory.jobs import build_job
from honeyframe_dagster.factory.triggers import build_trigger
from honeyframe_dagster.model.documents import Project
from honeyframe_dagster.model.scenario import ScenarioRecord, ScenarioSpec
from honeyframe_dagster.model.triggers import Trigger
from honeyframe_dagster.steps.run_python.model import RunPythonStep

PROJECT = Project(id="acme-sales", name="Acme Sales", owner_email="ana@acme.example")


def spec(name: str, entry: dict) -> ScenarioSpec:
    trigger = Trigger.model_validate(entry["trigger"])
    updated = dt.datetime.fromisoformat(entry["updated_at"]) if entry.get("updated_at") else None
    record = ScenarioRecord(entry["id"], PROJECT.id, name, entry.get("enabled", True), updated_at=updated)
    steps = (RunPythonStep(kind="run_python", recipe="noop"),)
    return ScenarioSpec(record, PROJECT, trigger, entry.get("timezone", "UTC"), steps, PROJECT.owner_email)


def build(scenarios: dict | None = None) -> Definitions:
    jobs, sensors = [], []
    if scenarios is None:
        scenarios = json.loads(os.environ.get("HONEYFRAME_TEST_TRIGGERS", "{}"))
    for name, entry in scenarios.items():
        scenario = spec(name, entry)
        job = build_job(scenario, f"job_{name}")
        jobs.append(job)
        sensors.append(build_trigger(scenario, job, f"job_{name}_sensor", None))
    return Definitions(jobs=jobs, sensors=sensors, resources=resources())


defs = build()
