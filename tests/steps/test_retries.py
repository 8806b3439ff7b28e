"""Step retries: every step's `retry` (or its kind's default) becomes Dagster's RetryPolicy on its node."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import Backoff, DagsterInstance, Definitions, Jitter, RetryPolicy
from dagster._core.definitions.dependency import NodeHandle

from honeyframe_dagster.factory.jobs import retry_policy
from honeyframe_dagster.model.steps import STEP_ADAPTER
from tests.conftest import ApplyYaml
from tests.steps.support import events, run_scenario

# Fails until it has been attempted `succeed_on` times, counting attempts in a file.
FLAKY = """from pathlib import Path

from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as context:
    counter = Path(context.get_extra("args")["counter"])
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    if attempt < context.get_extra("args")["succeed_on"]:
        raise RuntimeError(f"flaky failure on attempt {attempt}")
    context.log.info(f"succeeded on attempt {attempt}")
"""


def scenario(name: str, counter: Path, succeed_on: int, retry: str) -> str:
    return f"""
kind: Scenario
project: acme-ops
name: {name}
trigger: {{interval_seconds: 3600}}
steps:
  - kind: run_python
    recipe: flaky
    args: {{counter: "{counter}", succeed_on: {succeed_on}}}
    retry: {retry}
"""


@pytest.fixture
def flaky_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "flaky.py").write_text(FLAKY)
    monkeypatch.setenv("HONEYFRAME_PYTHON_RECIPES_DIR", str(folder))


def test_a_step_is_retried_per_its_policy_then_succeeds_or_fails(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    flaky_recipe: None,
    tmp_path: Path,
) -> None:
    policy = "{max_retries: 2, delay_seconds: 1, backoff: fixed}"
    counter = tmp_path / "recovers.count"
    recovers = run_scenario(
        apply_yaml, load_defs, instance, scenario("recovers", counter, 3, policy), "acme_ops__recovers"
    )
    assert recovers.success
    assert counter.read_text() == "3"
    assert len(events(recovers, "STEP_UP_FOR_RETRY", "step_1_run_python")) == 2

    # One retry fewer than the step needs: two attempts, then the run fails.
    counter = tmp_path / "gives_up.count"
    policy = "{max_retries: 1, delay_seconds: 1, backoff: linear}"
    gives_up = run_scenario(
        apply_yaml, load_defs, instance, scenario("gives up", counter, 3, policy), "acme_ops__gives_up"
    )
    assert not gives_up.success
    assert counter.read_text() == "2"
    assert len(events(gives_up, "STEP_UP_FOR_RETRY", "step_1_run_python")) == 1
    assert len(events(gives_up, "STEP_FAILURE", "step_1_run_python")) == 1


def test_retry_policies_on_the_nodes_of_a_job(
    apply_yaml: ApplyYaml, projects: None, load_defs: Callable[[], Definitions], tmp_path: Path
) -> None:
    documents = """
kind: Scenario
project: acme-ops
name: mixed
trigger: {cron: "0 6 * * *"}
steps:
  - {kind: run_recipe, recipe: stg_products}
  - kind: run_python
    recipe: score_inventory
    retry: {max_retries: 4, delay_seconds: 5, backoff: linear, jitter: true}
  - {kind: send_email_report, recipients: [olaf@acme.example]}
"""
    assert apply_yaml(documents) == 0
    job = load_defs().get_job_def("acme_ops__mixed")
    policies = {
        name: job.get_retry_policy_for_handle(NodeHandle(name, None))
        for name in ("step_1_run_recipe", "step_2_run_python", "step_3_send_email_report")
    }
    assert policies == {
        "step_1_run_recipe": None,
        "step_2_run_python": RetryPolicy(max_retries=4, delay=5, backoff=Backoff.LINEAR, jitter=Jitter.PLUS_MINUS),
        # The product doc's 3 × exponential; first delay HONEYFRAME_SMTP_RETRY_DELAY_SECONDS (tests: 0.05).
        "step_3_send_email_report": RetryPolicy(max_retries=3, delay=0.05, backoff=Backoff.EXPONENTIAL),
    }


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"kind": "sync_dataset", "dataset": "orders"}, RetryPolicy(2, 10, Backoff.EXPONENTIAL)),
        (
            {"kind": "run_agent", "agent": "a", "input": "x", "output_table": "t"},
            RetryPolicy(2, 10, Backoff.EXPONENTIAL),
        ),
        ({"kind": "run_recipe", "recipe": "r", "retry": {"max_retries": 0}}, None),
        ({"kind": "run_python", "recipe": "r"}, None),
        (
            {"kind": "run_recipe", "recipe": "r", "retry": {"max_retries": 1, "delay_seconds": 3, "backoff": "fixed"}},
            RetryPolicy(1, 3, None),
        ),
        # A report step with its own retry keeps its own delay.
        (
            {
                "kind": "send_email_report",
                "recipients": ["a@b.example"],
                "retry": {"max_retries": 5, "delay_seconds": 7},
            },
            RetryPolicy(5, 7, Backoff.EXPONENTIAL),
        ),
    ],
)
def test_retry_policy_of_each_kind(
    step: dict[str, object], expected: RetryPolicy | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HONEYFRAME_RETRY_DELAY_SECONDS")  # the production defaults (tests shorten them)
    _clear_settings()
    assert retry_policy(STEP_ADAPTER.validate_python(step)) == expected


def test_the_default_retry_delay_is_the_operators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HONEYFRAME_RETRY_DELAY_SECONDS", "30")
    _clear_settings()
    step = STEP_ADAPTER.validate_python({"kind": "sync_dataset", "dataset": "orders"})
    assert retry_policy(step) == RetryPolicy(2, 30, Backoff.EXPONENTIAL)
    own = STEP_ADAPTER.validate_python({"kind": "sync_dataset", "dataset": "orders", "retry": {"max_retries": 1}})
    assert retry_policy(own) == RetryPolicy(1, 10, Backoff.EXPONENTIAL)


def _clear_settings() -> None:
    """Settings may be cached per process; these tests change the environment under it."""
    from honeyframe_dagster.settings import get_settings

    getattr(get_settings, "cache_clear", lambda: None)()
