"""A reload in place (services/code_server.py) rebuilds only what changed: loading the definitions again takes each
job whose compiled scenario is unchanged as the very same object (whose snapshot Dagster keeps), and builds the
edited, added and removed ones as a fresh load would."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from dagster import Definitions

from honeyframe_dagster.cli import main as honeyframe

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EDITED = "hourly-revenue-build"


def jobs_by_scenario(defs: Definitions) -> dict[str, object]:
    repository = defs.get_repository_def()
    return {job.description or job.name: job for job in repository.get_all_jobs() if not job.name.startswith("__")}


def test_a_second_load_reuses_unchanged_jobs_and_rebuilds_edited_ones(
    hf_home: Path, tmp_path: Path, load_defs: Callable[[], Definitions]
) -> None:
    documents = tmp_path / "examples"
    shutil.copytree(EXAMPLES_DIR, documents)
    assert honeyframe(["apply", str(documents)]) == 0
    first = jobs_by_scenario(load_defs())
    [edited] = [name for name in first if name.startswith(f"{EDITED} ")]
    first_snapshot = first[edited].get_job_snapshot_id()  # type: ignore[attr-defined]

    # Nothing changed: every job is the same object, its snapshot computed once.
    again = jobs_by_scenario(load_defs())
    assert again.keys() == first.keys()
    assert all(again[name] is first[name] for name in first)

    # One scenario's steps change (a new recipe list: a new job shape): its job alone is built again.
    scenarios = documents / "scenarios.yaml"
    scenarios.write_text(scenarios.read_text().replace("recipes: [stg_orders, mart_revenue]", "recipe: stg_orders", 1))
    assert honeyframe(["apply", str(documents)]) == 0
    after = jobs_by_scenario(load_defs())
    assert after.keys() == first.keys()
    assert after[edited] is not first[edited]
    assert after[edited].get_job_snapshot_id() != first_snapshot  # type: ignore[attr-defined]
    assert all(after[name] is first[name] for name in first if name != edited)
