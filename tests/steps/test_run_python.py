"""run_python in real scenario jobs: recipes in a subprocess via Dagster Pipes, on a real Dagster instance."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions

from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.run_python.resource import RecipeNotFound, python_recipes_resource
from tests.conftest import ApplyYaml, granting
from tests.steps.support import events, failure_text, log_messages, output_metadata, run_scenario


def scenario(name: str, step: str) -> str:
    return f"""
kind: Scenario
project: acme-ops
name: {name}
trigger: {{interval_seconds: 3600}}
steps:
{step}
"""


def test_example_recipe_runs_with_args_and_reports_logs_and_metadata(
    apply_yaml: ApplyYaml, projects: None, load_defs: Callable[[], Definitions], instance: DagsterInstance
) -> None:
    step = """
  - kind: run_python
    recipe: score_inventory
    args: {horizon_days: 30}
"""
    result = run_scenario(apply_yaml, load_defs, instance, scenario("scoring", step), "acme_ops__scoring")
    assert result.success
    metadata = output_metadata(result, "step_1_run_python")
    assert metadata["recipe"] == "score_inventory"
    assert metadata["horizon_days"] == 30 and metadata["products scored"] == 25
    # A longer horizon flags more products than the default 14 days would (the arg really reached the recipe).
    assert 10 < metadata["products to reorder"] <= 25
    assert any("scored 25 products over 30 days" in m for m in log_messages(instance, result.run_id))


@pytest.fixture
def recipes_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "recipes"
    folder.mkdir()
    prelude = "from dagster_pipes import open_dagster_pipes\n\nwith open_dagster_pipes() as context:\n"
    (folder / "boom.py").write_text(prelude + "    raise ValueError('boom at row 42')\n")
    (folder / "hang.py").write_text(prelude + "    import time\n    time.sleep(120)\n")
    (folder / "secret.py").write_text("print('outside the folder')\n")
    monkeypatch.setenv("HONEYFRAME_PYTHON_RECIPES_DIR", str(folder))
    return folder


def test_missing_raising_and_hanging_recipes_fail_their_op_clearly(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    recipes_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An unknown recipe is refused when written (names the field); a file deleted later fails the run clearly.
    assert apply_yaml(scenario("missing", "  - {kind: run_python, recipe: nope}")) == 1
    assert "steps[0].recipe: unknown python recipe 'nope'" in capsys.readouterr().err
    (recipes_dir / "gone.py").write_text("print('soon gone')\n")
    assert apply_yaml(scenario("missing", "  - {kind: run_python, recipe: gone}")) == 0
    job = load_defs().get_job_def("acme_ops__missing")
    (recipes_dir / "gone.py").unlink()
    missing = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not missing.success
    assert "recipe 'gone' not found: no file gone.py in" in failure_text(missing, "step_1_run_python")

    raising = run_scenario(
        apply_yaml,
        load_defs,
        instance,
        scenario("raising", "  - {kind: run_python, recipe: boom}"),
        "acme_ops__raising",
    )
    assert not raising.success
    text = failure_text(raising, "step_1_run_python")
    assert "recipe 'boom' failed" in text and "Traceback" in text and "ValueError: boom at row 42" in text
    # Pipes also reports the recipe's exception, with its traceback, in the run's event log.
    assert any("boom at row 42" in m for m in log_messages(instance, raising.run_id))

    hang_step = "  - {kind: run_python, recipe: hang, timeout_seconds: 1.5}"
    started = time.monotonic()
    hanging = run_scenario(apply_yaml, load_defs, instance, scenario("hanging", hang_step), "acme_ops__hanging")
    assert time.monotonic() - started < 60
    assert not hanging.success
    assert "still running after 1.5 s and was stopped" in failure_text(hanging, "step_1_run_python")
    assert events(hanging, "STEP_FAILURE", "step_1_run_python")


def test_recipe_names_cannot_leave_the_recipes_folder(recipes_dir: Path) -> None:
    resource = python_recipes_resource(get_settings())
    assert resource.path_for("boom") == recipes_dir / "boom.py"
    for name in ("../recipes/secret", "/etc/passwd", "boom.py", "a-b"):
        with pytest.raises(RecipeNotFound, match="not a valid recipe name"):
            resource.path_for(name)


def test_a_path_traversing_recipe_name_is_refused_at_apply(apply_yaml: ApplyYaml, projects: None) -> None:
    assert apply_yaml(scenario("bad", "  - {kind: run_python, recipe: ../../etc/passwd}")) == 1


TOKEN = "tok-3f9a1c77e2b04d51"
SMTP_PASSWORD = "smtp-pass-0123456789"
LEAKY_RECIPE = """
import os
import sys

from dagster_pipes import open_dagster_pipes

token = os.environ["HONEYFRAME_SECRET_RECIPE_TOKEN"]
with open_dagster_pipes() as context:
    print(f"stdout has {token}")
    print(f"stderr has {token} and the SMTP password SMTP_PASSWORD", file=sys.stderr)
    context.log.info(f"pipes log has {token}")
    context.report_custom_message({"metadata": {"leaked": token, "nested": {"list": [f"in {token}"]}}})
    if context.extras["args"].get("fail"):
        raise ValueError(f"failing with {token}")
""".replace("SMTP_PASSWORD", SMTP_PASSWORD)


def test_secret_values_never_reach_the_run_log_failures_or_metadata(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    recipes_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (recipes_dir / "leaky.py").write_text(LEAKY_RECIPE)
    monkeypatch.setenv("HONEYFRAME_SECRET_RECIPE_TOKEN", TOKEN)
    monkeypatch.setenv("HONEYFRAME_SMTP_PASSWORD", SMTP_PASSWORD)
    step = "  - {kind: run_python, recipe: leaky, secrets: [HONEYFRAME_SECRET_RECIPE_TOKEN], args: {fail: FAIL}}"
    assert apply_yaml(granting("acme-ops", "HONEYFRAME_SECRET_RECIPE_TOKEN")) == 0
    ok = run_scenario(
        apply_yaml, load_defs, instance, scenario("leaky", step.replace("FAIL", "false")), "acme_ops__leaky"
    )
    assert ok.success
    metadata = output_metadata(ok, "step_1_run_python")
    assert metadata["leaked"] == "***" and metadata["nested"] == {"list": ["in ***"]}
    ok_logs = log_messages(instance, ok.run_id)
    assert any("stdout has ***" in m for m in ok_logs) and any("pipes log has ***" in m for m in ok_logs)

    failed = run_scenario(
        apply_yaml, load_defs, instance, scenario("leaky", step.replace("FAIL", "true")), "acme_ops__leaky"
    )
    assert not failed.success
    text = failure_text(failed, "step_1_run_python")
    assert "ValueError: failing with ***" in text and "the SMTP password ***" in text
    (failure,) = events(failed, "STEP_FAILURE", "step_1_run_python")
    stderr = failure.step_failure_data.user_failure_data.metadata["stderr"].value
    assert "stderr has ***" in stderr
    # Pipes reported the recipe's exception, with its traceback, as an engine event: redacted too.
    assert any("failing with ***" in m for m in log_messages(instance, failed.run_id))
    shown = [text, stderr, repr(metadata)] + ok_logs + log_messages(instance, failed.run_id)
    for message in shown:
        assert TOKEN not in message and SMTP_PASSWORD not in message
