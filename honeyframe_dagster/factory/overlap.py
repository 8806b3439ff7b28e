"""What a trigger does when a run of its scenario is still queued or in progress (`trigger.overlap`).

`queue` (and every policy but `allow`) rests on the run queue: each run of such a scenario carries
`SERIAL_TAG` = its scenario id, and the instance's `tag_concurrency_limits` let one run per value start at a
time (dagster.yaml), so the next one waits in QUEUED and starts when the previous ends, in creation order.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.storage.dagster_run import RunRecord

from honeyframe_dagster.model.tags import ENTITY_TAG, HIDDEN_TAG_PREFIX, SCENARIO_TAG
from honeyframe_dagster.model.triggers import Overlap

# Hidden (model/tags.py): the queue's key, the scenario id again, which the run already shows.
SERIAL_TAG = f"{HIDDEN_TAG_PREFIX}honeyframe_serial"
# Queued or in progress: the run holds (or waits for) the scenario's turn.
ACTIVE_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def serial_tags(scenario_id: int, overlap: Overlap) -> dict[str, str]:
    """Job tags that make the run queue start this scenario's runs one at a time (all policies but allow)."""
    return {} if overlap == "allow" else {SERIAL_TAG: str(scenario_id)}


def entity_serial_tags(scenario_id: int, overlap: Overlap, entity: str) -> dict[str, str]:
    """An `expand_from` run's serial tag: one run per entity at a time, entities side by side."""
    return {} if overlap == "allow" else {SERIAL_TAG: f"{scenario_id}|{entity}"}


def active_runs(instance: DagsterInstance, scenario_id: int, entity: str | None = None) -> Sequence[RunRecord]:
    """The scenario's queued and in-progress runs (`entity`: of that entity only), oldest first."""
    tags = {SCENARIO_TAG: str(scenario_id)} | ({ENTITY_TAG: entity} if entity is not None else {})
    records = instance.get_run_records(RunsFilter(tags=tags, statuses=ACTIVE_STATUSES), limit=100)
    return sorted(records, key=lambda r: r.create_timestamp)


def describe(records: Sequence[RunRecord]) -> str:
    shown = ", ".join(f"{r.dagster_run.run_id} ({r.dagster_run.status.value})" for r in records[:3])
    return shown + (f" and {len(records) - 3} more" if len(records) > 3 else "")


def cancel_previous(instance: DagsterInstance, records: Sequence[RunRecord]) -> list[str]:
    """Cancel queued runs and ask the launcher to terminate started ones; the ids it acted on."""
    done = []
    for record in records:
        run = record.dagster_run
        if run.status == DagsterRunStatus.CANCELING:
            continue
        if run.status in (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED):
            instance.report_run_canceling(
                run, message="Canceled by a newer run of the scenario (overlap: cancel_previous)."
            )
            instance.report_run_canceled(
                run, message="Canceled by a newer run of the scenario (overlap: cancel_previous)."
            )
        else:
            instance.run_launcher.terminate(run.run_id)
        done.append(run.run_id)
    return done
