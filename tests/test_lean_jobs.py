"""Lean jobs (factory/resources.py): a job binds only the resources its steps use, none exposes a config field, and
no credential reaches a job's snapshot, yet each step still gets its resource built from the run's settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import Definitions, JobDefinition
from dagster._config import ConfigType, ConfigTypeKind
from dagster._core.snap import JobSnap
from dagster._serdes import serialize_value

from honeyframe_dagster.cli import main as honeyframe
from honeyframe_dagster.factory.resources import resource_definition
from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.steps.send_email_report.resource import MailResource

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
SMTP_PASSWORD = "s3cret-smtp-Pa55"
STORE_PASSWORD = "s3cret-store-Pa55"


def fields_to_fill(config_type: ConfigType, path: str = "") -> list[str]:
    """The named fields under `config_type` (an `Any`-typed `config` is nothing to fill)."""
    fields = getattr(config_type, "fields", None) or {}
    found = []
    for name, field in fields.items():
        if field.config_type.kind in (ConfigTypeKind.STRICT_SHAPE, ConfigTypeKind.SELECTOR):
            found += fields_to_fill(field.config_type, f"{path}{name}.")
        elif field.config_type.kind != ConfigTypeKind.ANY:
            found.append(f"{path}{name}")
    return found


@pytest.fixture
def jobs(hf_home: Path, monkeypatch: pytest.MonkeyPatch, load_defs: Callable[[], Definitions]) -> list[JobDefinition]:
    monkeypatch.setenv("HONEYFRAME_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("HONEYFRAME_SMTP_USER", "reports")
    assert honeyframe(["apply", str(EXAMPLES_DIR)]) == 0
    repository = load_defs().get_repository_def()
    return [job for job in repository.get_all_jobs() if not job.name.startswith("__")]


def test_a_job_binds_only_what_its_steps_use(jobs: list[JobDefinition]) -> None:
    assert jobs
    for job in jobs:
        kinds = {node.definition.name for node in job.graph.nodes}
        required = {key for node in job.graph.nodes for key in node.definition.required_resource_keys}
        assert set(job.resource_defs) == required | {"io_manager"}, job.name
        # Only report steps send mail; only a job with one binds the mail connector.
        assert ("mail" in job.resource_defs) == ("send_email_report" in kinds), job.name


def test_no_job_has_a_resource_field_to_fill_nor_a_secret_in_its_snapshot(jobs: list[JobDefinition]) -> None:
    for job in jobs:
        fields = job.run_config_schema.config_type.fields
        for section in ("resources", "execution", "loggers"):
            assert fields_to_fill(fields[section].config_type) == [], (job.name, section)
        snapshot = serialize_value(JobSnap.from_job_def(job))
        assert SMTP_PASSWORD not in snapshot and "HONEYFRAME_SMTP_PASSWORD" not in snapshot
        # Lean: well under half of the 41+ KB that binding all seven configurable resources cost.
        assert len(snapshot) < 30_000, (job.name, len(snapshot))


def test_a_resource_is_built_from_the_settings_of_the_process_that_runs_the_step(
    hf_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HONEYFRAME_SMTP_HOST", "mail.internal")
    monkeypatch.setenv("HONEYFRAME_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("HONEYFRAME_DATABASE_URL", f"postgresql+psycopg://honeyframe:{STORE_PASSWORD}@db/store")
    mail = resource_definition("mail").resource_fn(None)  # type: ignore[arg-type]
    assert isinstance(mail, MailResource)
    assert (mail.host, mail.password) == ("mail.internal", SMTP_PASSWORD)  # the value, not a variable's name
    store = resource_definition("scenarios").resource_fn(None)  # type: ignore[arg-type]
    assert isinstance(store, ScenarioStoreResource) and STORE_PASSWORD in store.url
    # Read again when the next run starts: a changed setting is what the next run uses.
    monkeypatch.setenv("HONEYFRAME_SMTP_HOST", "mail2.internal")
    assert resource_definition("mail").resource_fn(None).host == "mail2.internal"  # type: ignore[arg-type]
