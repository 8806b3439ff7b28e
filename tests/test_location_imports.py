"""What a code location and the API import when they load: not the libraries only a run worker uses.

sqlglot, DuckDB, Alembic, httpx, holidays and fpdf are imported where SQL is parsed, the warehouse queried, the
store migrated, a request made, a holiday looked up or a PDF drawn; loading the definitions does none of that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from honeyframe_dagster.settings import REPO_ROOT
from tests.conftest import ApplyYaml, granting

# A run worker's libraries (and what they pull in: httpcore, tenacity), none of which a code location needs.
RUN_WORKER_ONLY = ("sqlglot", "duckdb", "alembic", "httpx", "httpcore", "tenacity", "holidays", "fpdf")

# Every step kind, every connector, a transactional parallel group (its commit op), `run_if`, a fan-out query,
# an SLA with a webhook, a calendar (without holidays), and an upstream trigger.
DOCUMENTS = (
    granting("acme-ops", "HONEYFRAME_SECRET_OPS_WEBHOOK", "HONEYFRAME_SECRET_SUPPLIERS_DB")
    + """
kind: Calendar
id: workdays
business_days: true
---
kind: Dataset
id: regions
project: acme-ops
table: dim_regions
connector: {type: file, path: examples/data/regions.csv}
---
kind: Dataset
id: prices
project: acme-ops
connector: {type: http, url: "https://data.example.com/prices.csv"}
---
kind: Dataset
id: stock
project: acme-ops
connector: {type: platform, dataset_id: stock}
---
kind: Dataset
id: suppliers
project: acme-ops
connector: {type: sql, url_env: HONEYFRAME_SECRET_SUPPLIERS_DB, query: "select * from suppliers"}
---
kind: Agent
id: triage
project: acme-ops
model: gpt-4o-mini
system_prompt: Label each region.
base_url_env: HONEYFRAME_AGENT_BASE_URL
---
kind: Dashboard
id: regions
project: acme-ops
title: Regions
cards:
  - {title: Regions, display: table, sql: "select * from dim_regions where 1 = 1"}
---
kind: Scenario
project: acme-ops
name: everything
trigger:
  cron: "0 6 * * *"
  calendar: workdays
  expand_from: {sql: "select region from dim_regions"}
sla:
  finish_within_seconds: 3600
  notify: {webhook_env: HONEYFRAME_SECRET_OPS_WEBHOOK}
steps:
  - {kind: sync_dataset, dataset: regions}
  - {kind: sync_dataset, dataset: prices, parallel: true}
  - {kind: sync_dataset, dataset: stock, parallel: true}
  - {kind: sync_dataset, dataset: suppliers, parallel: true}
  - {kind: run_recipe, recipe: mart_revenue}
  - {kind: run_python, recipe: pause}
  - {kind: run_agent, agent: triage, input: "select region from dim_regions", output_table: region_labels}
  - {kind: send_email_report, dashboard_ids: [regions], recipients: [olaf@acme.example], format: pdf}
  - {kind: notify_webhook, url_env: HONEYFRAME_SECRET_OPS_WEBHOOK, run_if: failure}
---
kind: Scenario
project: acme-ops
name: after-everything
trigger: {upstream: {scenario: everything}}
steps:
  - {kind: run_recipe, recipe: mart_ops_kpis}
"""
)

# A code server initializes a location (`defs`, which calls load_definitions) and serves its repository snapshot:
# first the location's own load, then the same through Dagster's loader, as `dagster api grpc -m …` runs it.
CODE_SERVER = """
import json, sys
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster_shared.serdes import serialize_value

from honeyframe_dagster.definitions import load_definitions


def loaded():
    return sorted({name.split(".")[0] for name in sys.modules})


serialize_value(RepositorySnap.from_def(load_definitions().get_repository_def(), defer_snapshots=True))
own = loaded()
repository = ReconstructableRepository.for_module("honeyframe_dagster.definitions", "defs", working_directory=".")
definition = repository.get_definition()
serialize_value(RepositorySnap.from_def(definition, defer_snapshots=True))
jobs = sorted(job.name for job in definition.get_all_jobs())
print(json.dumps({"jobs": jobs, "own": own, "served": loaded()}))
"""


def top_level_modules(code: str) -> dict:
    """Run `code` in a fresh interpreter in the repository; the JSON it printed last."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, cwd=REPO_ROOT, env=os.environ
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_code_location_loads_every_step_kind_without_a_run_workers_libraries(
    apply_yaml: ApplyYaml, projects: None, hf_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", raising=False)
    assert apply_yaml(DOCUMENTS) == 0
    loaded = top_level_modules(CODE_SERVER)
    assert {"acme_ops__everything", "acme_ops__after_everything"} <= set(loaded["jobs"]), loaded["jobs"]
    assert "dagster" in loaded["own"]
    assert not set(RUN_WORKER_ONLY) & set(loaded["own"]), set(RUN_WORKER_ONLY) & set(loaded["own"])
    # Dagster's loader imports its SQLite storage, and Alembic with it, whatever the location
    # (dagster._utils.test, through def_from_pointer): nothing else is added.
    dagster_only = set(RUN_WORKER_ONLY) - {"alembic"}
    assert not dagster_only & set(loaded["served"]), dagster_only & set(loaded["served"])


def test_the_api_imports_no_duckdb(hf_home: Path) -> None:
    # The API parses SQL (sqlglot) when a document is written, and reads Dagster's storage, which imports Alembic.
    code = 'import json, sys\nimport api.main\nprint(json.dumps({"modules": sorted(sys.modules)}))'
    assert "duckdb" not in {name.split(".")[0] for name in top_level_modules(code)["modules"]}
