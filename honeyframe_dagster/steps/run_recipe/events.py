"""What `run_recipe` records of a dbt build, in the terms of the `warehouse` location's dbt assets: a materialization
of each node dbt built and an asset check evaluation of each test it ran.

A plain op's materialization carries no data provenance, so Dagster falls back to timestamps and shows a model
"Unsynced" as soon as another scenario rebuilds one of its parents, even from the same code and data. These
materializations carry the provenance Dagster's own asset steps record (code version, input data versions, and the
logical data version derived from them), so an asset is in sync unless its code or its inputs really changed. The
tests dbt runs are the checks dagster-dbt declares on those assets: they are reported, not left "not executed".
"""

from __future__ import annotations

from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    DataVersion,
    MetadataValue,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.definitions.data_version import (
    CODE_VERSION_TAG,
    DATA_VERSION_TAG,
    DEFAULT_DATA_VERSION,
    NULL_EVENT_POINTER,
    compute_logical_data_version,
    extract_data_version_from_entry,
    get_input_data_version_tag,
    get_input_event_pointer_tag,
)
from dagster._core.event_api import EventLogRecord

from honeyframe_dagster.dbt import NodeResult

# dbt's statuses of a test that ran (a skipped one did not: its model failed).
TEST_OUTCOMES = ("pass", "fail", "warn", "error")


def _current(instance: DagsterInstance, key: AssetKey) -> tuple[DataVersion, EventLogRecord | None]:
    """An asset's data version now, as Dagster's staleness resolver reads it (a table never recorded, or recorded
    without a version, such as one `sync_dataset` loads, has the default one)."""
    record = instance.get_latest_data_version_record(key)
    if record is None:
        return DEFAULT_DATA_VERSION, None
    return extract_data_version_from_entry(record.event_log_entry) or DEFAULT_DATA_VERSION, record


def materialization(result: NodeResult, instance: DagsterInstance, run_id: str) -> AssetMaterialization:
    """The materialization of a node dbt built. Its parents' current versions are read from the instance, so the
    results must come in build order (dbt's run_results are: a node completes after its parents)."""
    # Dagster's asset steps use the run id when an asset declares no code version; so do we.
    code_version = result.code_version or run_id
    tags = {CODE_VERSION_TAG: code_version}
    inputs = {}
    for path in result.parent_keys:
        key = AssetKey(path)
        inputs[key], record = _current(instance, key)
        tags[get_input_data_version_tag(key)] = inputs[key].value
        tags[get_input_event_pointer_tag(key)] = str(record.storage_id) if record else NULL_EVENT_POINTER
    tags[DATA_VERSION_TAG] = compute_logical_data_version(code_version, inputs).value
    return AssetMaterialization(
        asset_key=AssetKey(result.asset_key),
        description=f"dbt {result.resource_type} {result.unique_id}, built by run_recipe",
        metadata={"unique_id": result.unique_id, "Execution Duration": result.execution_time},
        tags=tags,
    )


def check_evaluation(result: NodeResult, tested_key: list[str], instance: DagsterInstance) -> AssetCheckEvaluation:
    """A dbt test's outcome as the evaluation of dagster-dbt's check of the same name, for the latest
    materialization of the asset it tests (the one this build just recorded)."""
    key = AssetKey(tested_key)
    record = instance.get_latest_data_version_record(key, is_source=False)
    target = (
        AssetCheckEvaluationTargetMaterializationData(
            storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
        )
        if record
        else None
    )
    return AssetCheckEvaluation(
        asset_key=key,
        check_name=result.name,
        passed=result.status == "pass",
        severity=AssetCheckSeverity.WARN if result.status == "warn" else AssetCheckSeverity.ERROR,
        metadata={"unique_id": result.unique_id, "dbt status": MetadataValue.text(result.message or result.status)},
        target_materialization_data=target,
    )
