"""The scenario model: the product doc's template, rendering, triggers and their errors."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from honeyframe_dagster.model.documents import DOCUMENT_ADAPTER, Project, Template
from honeyframe_dagster.model.triggers import Trigger
from honeyframe_dagster.steps.run_recipe.model import RunRecipeStep
from honeyframe_dagster.steps.send_email_report.model import SendEmailReportStep

PRODUCT_DOC_TEMPLATE = """
slug: nightly-mart-refresh
display_name: Nightly mart refresh
parameters:
  - name: mart_recipe
    type: recipe_ref
trigger:
  cron: "0 2 * * *"
steps:
  - kind: run_recipe
    recipe: "{{ param.mart_recipe }}"
  - kind: send_email_report
    dashboard_ids: []
    recipients:
      - "{{ project.owner_email }}"
"""
ACME = Project(id="acme-sales", name="Acme Sales", owner_email="ana@acme.example")


def test_product_doc_template_loads_unchanged_and_renders() -> None:
    template = Template.model_validate(yaml.safe_load(PRODUCT_DOC_TEMPLATE))
    assert template.default_enabled is False
    recipe, email = template.instantiate(ACME, {"mart_recipe": "mart_revenue"})
    assert isinstance(recipe, RunRecipeStep) and recipe.selection == ["mart_revenue"]
    assert isinstance(email, SendEmailReportStep) and email.recipients == ["ana@acme.example"]


def test_every_contract_document_parses(contract_documents: list[dict]) -> None:
    kinds = [DOCUMENT_ADAPTER.validate_python(raw).kind for raw in contract_documents]
    assert kinds == ["Project", "Calendar", "Template", "Matrix", "Scenario", "Dataset", "Dashboard", "Agent"]


def test_integer_parameter_keeps_its_type_and_strings_interpolate() -> None:
    template = Template.model_validate(
        {
            "slug": "py",
            "display_name": "Python",
            "parameters": [{"name": "days", "type": "integer", "default": 7}],
            "trigger": {"interval_seconds": 3600},
            "steps": [
                {
                    "kind": "run_python",
                    "recipe": "score_inventory",
                    "args": {"horizon": "{{ param.days }}", "label": "p-{{ project.id }}"},
                }
            ],
        }
    )
    (step,) = template.instantiate(ACME, {})
    assert step.args == {"horizon": 7, "label": "p-acme-sales"}
    (step,) = template.instantiate(ACME, {"days": "14"})
    assert step.args["horizon"] == 14


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "parameter 'mart_recipe' of template 'nightly-mart-refresh' has no value"),
        ({"mart_recipe": "x", "other": 1}, "unknown parameter(s) for template 'nightly-mart-refresh': other"),
        ({"mart_recipe": ""}, "parameter 'mart_recipe' must be a non-empty string"),
    ],
)
def test_instantiation_errors_name_the_parameter(values: dict, message: str) -> None:
    template = Template.model_validate(yaml.safe_load(PRODUCT_DOC_TEMPLATE))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        template.instantiate(ACME, values)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"kind": "run_recipe", "recipe": "{{ param.nope }}"}, "undefined parameter 'nope'"),
        ({"kind": "run_recipe", "recipe": "{{ project.budget }}"}, "undefined project field 'budget'"),
        ({"kind": "run_recipe", "recipe": "{{ env.HOME }}"}, "unsupported placeholder"),
        ({"kind": "teleport"}, "unknown step kind 'teleport'"),
        ({"kind": "run_recipe", "recipe": "x", "color": "red"}, r"steps\[0\].color: Extra inputs are not permitted"),
    ],
)
def test_template_shape_errors_name_the_field(step: dict, message: str) -> None:
    raw = yaml.safe_load(PRODUCT_DOC_TEMPLATE) | {"steps": [step]}
    with pytest.raises(ValidationError, match=message):
        Template.model_validate(raw)


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ({"cron": "0 2 * *"}, "invalid cron expression '0 2 \\* \\*'"),
        ({"cron": "61 * * * *"}, "invalid cron expression '61 \\* \\* \\* \\*': minute 61 is out of range 0–59"),
        ({"cron": "0 24 * * *"}, "hour 24 is out of range 0–23"),
        ({"cron": "0 0 * 13 *"}, "month 13 is out of range 1–12"),
        ({"cron": "*/0 * * * *"}, "minute step '0' must be a whole number of at least 1"),
        ({"run_at": "2026-12-24T18:00:00"}, "run_at\n.*needs a UTC offset"),
        (
            {"cron": "0 2 * * *", "start_at": "2026-01-01T00:00:00Z"},
            "start_at applies to interval_seconds triggers only",
        ),
        ({"cron": "@daily"}, "invalid cron expression"),
        ({"interval_seconds": 59}, "interval_seconds must be >= 60, got 59"),
        ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
        ({"cron": "0 2 * * *", "interval_seconds": 3600}, "exactly one of cron, interval_seconds, run_at, upstream"),
        ({}, "exactly one of"),
    ],
)
def test_trigger_errors(trigger: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Trigger.model_validate(trigger)


def test_recipients_refuse_header_injection() -> None:
    with pytest.raises(ValidationError, match="invalid e-mail address"):
        SendEmailReportStep.model_validate(
            {"kind": "send_email_report", "recipients": ["a@b.example\r\nBcc: evil@x.example"]}
        )


def test_no_field_checks_a_pattern_whose_error_would_show_the_regular_expression() -> None:
    """pydantic's error for `Field(pattern=...)` is "String should match pattern '^[a-z0-9](?:…'"; the types of
    model/identifiers.py check the same patterns with a message in words (the JSON schema keeps the pattern)."""
    import ast

    from honeyframe_dagster.settings import REPO_ROOT

    found = []
    for package in ("honeyframe_dagster", "api"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and any(keyword.arg == "pattern" for keyword in node.keywords):
                    found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert found == []


def test_an_id_or_name_error_says_what_is_allowed_in_words() -> None:
    with pytest.raises(ValidationError) as raised:
        Project(id="-acme", name="Acme", owner_email="ana@acme.example")
    (error,) = raised.value.errors()
    assert error["loc"] == ("id",) and error["input"] == "-acme"
    assert (
        error["msg"]
        == "Value error, must be 1 to 64 lowercase letters, digits and '-', not starting or ending with '-'"
    )
    # A trailing newline is not let through by the pattern's `$`.
    with pytest.raises(ValidationError):
        RunRecipeStep(kind="run_recipe", recipe="mart_revenue\n")


PLAIN_CRONS = ["0 2 * * *", "*/90 5-1 * * 7-0", "00 01 29 2 *", "1,2,3-10/3 * * * 0-7", "0 0 31 2 *", "0 0 1 * MON"]


def test_a_plain_cron_is_one_dagster_accepts_and_the_rest_are_asked_of_dagster() -> None:
    """model/triggers.py tells plain crons valid without importing Dagster; Dagster must accept every one."""
    import random

    from dagster._utils.schedules import is_valid_cron_string

    from honeyframe_dagster.model.triggers import CRON_FIELDS, _plain, check_cron

    def item(low: int, high: int) -> str:
        a, b, step = rng.randint(low, high), rng.randint(low, high), rng.choice([1, 2, 7, 59, 60, 400])
        return rng.choice(["*", f"*/{step}", f"{a}", f"0{a}", f"{a}-{b}", f"{b}-{a}/{step}", f"{low}-{high}"])

    rng = random.Random(7)
    plain = 0
    for _ in range(3000):
        fields = [",".join(item(low, high) for _ in range(rng.randint(1, 2))) for _, low, high in CRON_FIELDS]
        if _plain(fields):
            plain += 1
            assert is_valid_cron_string(" ".join(fields)), fields
    assert plain > 1000
    # Days 30 and 31 (February 30 is no day), names, steps of one value: Dagster's parser decides.
    assert [_plain(cron.split()) for cron in PLAIN_CRONS] == [True, True, True, True, False, False]
    assert check_cron("0 0 1 * MON") == "0 0 1 * MON"
    with pytest.raises(ValueError, match="invalid cron"):
        check_cron("0 0 31 2 *")
