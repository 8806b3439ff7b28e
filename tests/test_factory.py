"""The factory: jobs, ops and their dependencies, triggers with timezone and status, broken scenarios."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dagster import DefaultScheduleStatus, DefaultSensorStatus, Definitions

from honeyframe_dagster.cli import main as honeyframe
from tests.conftest import ApplyYaml

DOCS = """
kind: Template
slug: nightly
display_name: Nightly
parameters: [{name: mart, type: recipe_ref}]
trigger: {cron: "0 2 * * *", timezone: America/New_York}
steps: [{kind: run_recipe, recipe: "{{ param.mart }}"}]
---
kind: Matrix
template: nightly
project: acme-sales
enabled: true
parameters: {mart: mart_revenue}
---
kind: Matrix
template: nightly
project: acme-ops
enabled: false
parameters: {mart: mart_inventory}
---
kind: Scenario
project: acme-sales
name: fan out
trigger: {interval_seconds: 600}
steps:
  - {kind: run_recipe, recipe: stg_orders}
  - {kind: run_recipe, recipe: mart_revenue, parallel: true}
  - {kind: run_recipe, recipe: mart_ops_kpis, parallel: true}
  - {kind: run_recipe, recipe: mart_inventory, parallel: true}
  - {kind: run_recipe, recipe: stg_customers}
---
kind: Scenario
project: acme-sales
name: after fan out
enabled: false
trigger: {upstream: {scenario: fan out}}
steps: [{kind: run_recipe, recipe: mart_revenue}]
---
kind: Scenario
project: acme-ops
name: project zone
trigger: {cron: "15 */4 * * *"}
steps: [{kind: run_recipe, recipe: stg_products}]
"""


def upstream_of(defs: Definitions, job_name: str) -> dict[str, set[str]]:
    structure = defs.get_job_def(job_name).graph.dependency_structure
    return {
        node.name: {output.node.name for output in structure.all_upstream_outputs_from_node(node.name)}
        for node in defs.get_job_def(job_name).graph.nodes
    }


@pytest.fixture
def defs(apply_yaml: ApplyYaml, projects: None, load_defs: Callable[[], Definitions]) -> Definitions:
    assert apply_yaml(DOCS) == 0
    return load_defs()


def test_jobs_carry_tags_and_steps_in_order(defs: Definitions) -> None:
    names = {job.name for job in defs.get_repository_def().get_all_jobs()}
    assert {
        "acme_sales__nightly",
        "acme_ops__nightly",
        "acme_sales__fan_out",
        "acme_sales__after_fan_out",
        "acme_ops__project_zone",
    } <= names
    nightly = defs.get_job_def("acme_sales__nightly")
    assert nightly.tags["honeyframe/template"] == "nightly"
    assert nightly.tags["honeyframe/project_id"] == "acme-sales"
    assert nightly.tags["honeyframe/scenario_id"].isdigit()
    assert "honeyframe/template" not in defs.get_job_def("acme_sales__fan_out").tags


def test_parallel_steps_fan_out_and_the_next_step_waits_for_all(defs: Definitions) -> None:
    deps = upstream_of(defs, "acme_sales__fan_out")
    assert deps["step_1_run_recipe"] == set()
    for parallel in ("step_2_run_recipe", "step_3_run_recipe", "step_4_run_recipe"):
        assert deps[parallel] == {"step_1_run_recipe"}
    assert deps["step_5_run_recipe"] == {"step_2_run_recipe", "step_3_run_recipe", "step_4_run_recipe"}
    assert defs.get_job_def("acme_sales__fan_out").executor_def.name == "multiprocess"
    assert defs.get_job_def("acme_sales__nightly").executor_def.name == "in_process"


def test_cron_triggers_are_schedules_of_partitioned_jobs_with_timezone_and_status(defs: Definitions) -> None:
    nightly = defs.get_schedule_def("acme_sales__nightly_schedule")
    assert nightly.default_status == DefaultScheduleStatus.RUNNING and nightly.job_name == "acme_sales__nightly"
    assert nightly.cron_schedule == "0 2 * * *" and nightly.execution_timezone == "America/New_York"
    assert "America/New_York" in (nightly.description or "")
    assert defs.get_schedule_def("acme_ops__nightly_schedule").default_status == DefaultScheduleStatus.STOPPED
    partitions = defs.get_job_def("acme_sales__nightly").partitions_def
    assert partitions is not None and partitions.timezone == "America/New_York"
    assert partitions.has_partition_key("2026-03-08")
    # No trigger timezone: the project's (acme-ops has none → UTC; acme-sales is Europe/Berlin in the fixture).
    assert defs.get_job_def("acme_ops__project_zone").partitions_def.timezone == "UTC"
    assert defs.get_job_def("acme_ops__project_zone").partitions_def.get_partition_key_for_timestamp(0) is not None


def test_intervals_on_a_minute_grid_are_schedules_and_upstream_triggers_sensors(defs: Definitions) -> None:
    interval = defs.get_schedule_def("acme_sales__fan_out_schedule")  # every 600 s from the epoch, in UTC
    assert interval.cron_schedule == "0,10,20,30,40,50 * * * *" and interval.execution_timezone == "UTC"
    assert interval.default_status == DefaultScheduleStatus.RUNNING
    # Every policy but overlap: allow serializes the scenario's runs in the run queue.
    assert defs.get_job_def("acme_sales__fan_out").tags[".dagster/honeyframe_serial"].isdigit()
    upstream = defs.get_sensor_def("acme_sales__after_fan_out_sensor")
    assert upstream.default_status == DefaultSensorStatus.STOPPED
    assert upstream.job_name == "acme_sales__after_fan_out"


def test_a_broken_scenario_is_skipped_and_listed_while_others_load(
    defs: Definitions, apply_yaml: ApplyYaml, load_defs: Callable[[], Definitions], capsys, caplog
) -> None:
    # The stored version of one instance names a recipe the dbt project no longer has (as after a dbt change):
    # that scenario is the location's error, the others load.
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from honeyframe_dagster.boot import boot
    from honeyframe_dagster.settings import get_settings
    from honeyframe_dagster.store.tables import ScenarioRow, ScenarioVersionRow

    with Session(boot(get_settings())) as session, session.begin():
        row = session.scalars(
            select(ScenarioRow).where(ScenarioRow.project_id == "acme-ops", ScenarioRow.template_slug == "nightly")
        ).one()
        version = session.get(ScenarioVersionRow, (row.id, row.version))
        assert version is not None
        version.spec = {**version.spec, "steps": [{**version.spec["steps"][0], "recipe": "mart_gone"}]}
        version.spec_hash = "edited"
    broken_defs = load_defs()
    names = {job.name for job in broken_defs.get_repository_def().get_all_jobs()}
    assert "acme_ops__nightly" not in names and "acme_sales__nightly" in names
    assert "unknown recipe 'mart_gone'" in caplog.text
    capsys.readouterr()
    assert honeyframe(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    broken = next(line for line in lines if line.startswith("acme_ops__nightly\t"))
    assert "ERROR" in broken and "mart_gone" in broken
    assert any(line.startswith("acme_sales__nightly\t") and line.split("\t")[2] == "RUNNING" for line in lines)
    assert any(line.startswith("acme_ops__nightly") for line in lines)


def test_cron_timezone_is_the_triggers_else_the_projects_else_the_org_default(
    apply_yaml: ApplyYaml, load_defs: Callable[[], Definitions], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HONEYFRAME_DEFAULT_TIMEZONE", "Asia/Tokyo")
    assert (
        apply_yaml(
            """
        kind: Project
        id: berlin
        name: Berlin
        owner_email: b@acme.example
        timezone: Europe/Berlin
        ---
        kind: Project
        id: nowhere
        name: Nowhere
        owner_email: n@acme.example
        ---
        kind: Scenario
        project: berlin
        name: own zone
        trigger: {cron: "0 2 * * *", timezone: America/New_York}
        steps: [{kind: run_recipe, recipe: stg_orders}]
        ---
        kind: Scenario
        project: berlin
        name: project zone
        trigger: {cron: "0 2 * * *"}
        steps: [{kind: run_recipe, recipe: stg_orders}]
        ---
        kind: Scenario
        project: nowhere
        name: org zone
        trigger: {cron: "0 2 * * *"}
        steps: [{kind: run_recipe, recipe: stg_orders}]
        """
        )
        == 0
    )
    defs = load_defs()
    zones = {
        name: defs.get_job_def(name).partitions_def.timezone
        for name in ("berlin__own_zone", "berlin__project_zone", "nowhere__org_zone")
    }
    assert zones == {
        "berlin__own_zone": "America/New_York",
        "berlin__project_zone": "Europe/Berlin",
        "nowhere__org_zone": "Asia/Tokyo",
    }


def test_an_unknown_org_default_timezone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from honeyframe_dagster.settings import Settings

    monkeypatch.setenv("HONEYFRAME_DEFAULT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError, match="unknown timezone 'Mars/Olympus'"):
        Settings()


def test_the_dagster_url_follows_the_ui_port_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from honeyframe_dagster.settings import Settings

    monkeypatch.delenv("HONEYFRAME_DAGSTER_URL", raising=False)
    monkeypatch.setenv("HONEYFRAME_UI_PORT", "3300")
    assert Settings().dagster_webserver_url == "http://127.0.0.1:3300"
    monkeypatch.setenv("HONEYFRAME_DAGSTER_URL", "")
    assert Settings().dagster_webserver_url == ""
    monkeypatch.setenv("HONEYFRAME_DAGSTER_URL", "http://dagster.internal:3000/")
    assert Settings().dagster_webserver_url == "http://dagster.internal:3000"
