"""Legacy tables left after the migration step stop the CLI, the code location and the API from booting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from honeyframe_dagster.cli import main as honeyframe
from tests.conftest import ApplyYaml
from tests.ops.conftest import REPO_ROOT, LoadLegacy

# A legacy row naming a project the store does not hold: it cannot migrate, so the drop is blocked.
ORPHAN_ROW = """;
INSERT INTO project_cron_jobs (id, project_id, schedule, action, target, options, enabled)
VALUES (9, 'ghost-project', '0 5 * * *', 'sync_dataset', 'orders', NULL, 1)
"""
DROP_SCRIPT = "scripts/migrations/drop_pipeline_schedules.sql"


def assert_drift_message(text: str) -> None:
    assert "incomplete upgrade" in text
    assert "report_schedules, pipeline_schedules, project_cron_jobs" in text
    assert "project_cron_jobs id 9: project_id: unknown project 'ghost-project'" in text
    assert DROP_SCRIPT in text


def test_cli_exits_non_zero_naming_tables_rows_and_the_drop_script(
    load_legacy: LoadLegacy, apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str]
) -> None:
    load_legacy(ORPHAN_ROW)
    capsys.readouterr()
    assert honeyframe(["init"]) == 2
    assert_drift_message(capsys.readouterr().err)
    assert honeyframe(["list"]) == 2
    assert_drift_message(capsys.readouterr().err)
    # The documented way out: apply what the row names (apply warns but writes), then boot again.
    assert apply_yaml("kind: Project\nid: ghost-project\nname: Ghost\nowner_email: g@acme.example\n") == 0
    assert "applying anyway" in capsys.readouterr().err
    assert honeyframe(["init"]) == 0
    assert honeyframe(["list"]) == 0
    assert "ghost_project__sync_dataset_orders" in capsys.readouterr().out


# One backend is enough here: the check itself runs on both in the CLI test; this one is about the loader.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_code_location_fails_to_load_with_the_drift_message(load_legacy: LoadLegacy, hf_home: Path) -> None:
    load_legacy(ORPHAN_ROW)
    env = {**os.environ, "DAGSTER_HOME": str(hf_home / "dagster_home")}
    (hf_home / "dagster_home").mkdir()
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate"]
        + ["-m", "honeyframe_dagster.definitions"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "SchemaDriftError" in output
    assert_drift_message(output)


def test_api_refuses_to_start(load_legacy: LoadLegacy) -> None:
    main = pytest.importorskip("api.main", reason="api.main (the API's app) is not written yet")
    from fastapi.testclient import TestClient

    from honeyframe_dagster.legacy.drift import SchemaDriftError

    load_legacy(ORPHAN_ROW)
    with pytest.raises(SchemaDriftError) as raised, TestClient(main.app):
        pass
    assert_drift_message(str(raised.value))
