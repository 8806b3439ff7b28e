"""List parameters end to end: template → matrix cell (apply or API) → the instance's rendered steps."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from sqlalchemy.orm import Session

from honeyframe_dagster.boot import boot
from honeyframe_dagster.model.documents import Parameter, Template
from honeyframe_dagster.model.scenario import ScenarioSpec, resolve
from honeyframe_dagster.settings import EXAMPLES_DIR, get_settings
from honeyframe_dagster.steps.run_recipe.model import RunRecipeStep
from honeyframe_dagster.steps.send_email_report.model import SendEmailReportStep
from honeyframe_dagster.store.catalog import load_catalog
from tests.api import conftest as api_fixtures
from tests.conftest import ApplyYaml

api = api_fixtures.api  # the API on a seeded store (tests/api/conftest.py), for the enable test below

TEMPLATE = """
kind: Template
slug: weekly-mail
display_name: Weekly mail
parameters:
  - {name: marts, type: "list[recipe_ref]"}
  - {name: dashboards, type: "list[dashboard_ref]"}
  - {name: recipients, type: "list[email]", default: []}
trigger: {cron: "0 7 * * 1"}
steps:
  - kind: run_recipe
    recipes: "{{ param.marts }}"
  - kind: send_email_report
    dashboard_ids: "{{ param.dashboards }}"
    recipients: ["{{ project.owner_email }}", "{{ param.recipients }}"]
"""
DASHBOARDS = """
kind: Dashboard
id: revenue-overview
project: acme-sales
title: Revenue overview
---
kind: Dashboard
id: pipeline-health
project: acme-sales
title: Pipeline health
"""


def matrix(project: str = "acme-sales", **parameters: Any) -> str:
    return yaml.safe_dump({"kind": "Matrix", "template": "weekly-mail", "project": project, "parameters": parameters})


def instance(project: str, slug: str = "weekly-mail") -> ScenarioSpec:
    """The template's instance for `project`, rendered and checked as the factory builds it."""
    with Session(boot(get_settings())) as session:
        catalog = load_catalog(session)
    (record,) = [s for s in catalog.scenarios if s.project_id == project and s.template_slug == slug]
    return resolve(record, catalog, None)


def report_step(spec: ScenarioSpec) -> SendEmailReportStep:
    step = spec.steps[-1]
    assert isinstance(step, SendEmailReportStep)
    return step


def test_lists_given_by_apply_render_as_lists_and_a_new_matrix_replaces_them(
    apply_yaml: ApplyYaml, projects: None
) -> None:
    assert apply_yaml(TEMPLATE + "---" + DASHBOARDS) == 0
    cell = matrix(
        marts=["stg_orders", "mart_revenue"],
        dashboards=["revenue-overview", "pipeline-health"],
        recipients=["cfo@acme.example", "ceo@acme.example"],
    )
    assert apply_yaml(cell) == 0
    spec = instance("acme-sales")
    recipe = spec.steps[0]
    assert isinstance(recipe, RunRecipeStep) and recipe.recipes == ["stg_orders", "mart_revenue"]
    assert report_step(spec).dashboard_ids == ["revenue-overview", "pipeline-health"]
    # The list parameter is spliced into the list it is an item of: the owner first, then the list.
    assert report_step(spec).recipients == ["ana@acme.example", "cfo@acme.example", "ceo@acme.example"]

    # Applying the cell again with new values updates the same instance; a default fills what is left out.
    assert apply_yaml(matrix(marts=["mart_revenue"], dashboards=["pipeline-health"])) == 0
    again = instance("acme-sales")
    assert again.id == spec.id
    assert report_step(again).dashboard_ids == ["pipeline-health"]
    assert report_step(again).recipients == ["ana@acme.example"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (
            {"marts": ["mart_revenue"], "dashboards": ["revenue-overview"], "recipients": ["a@acme.example", "nope"]},
            "'recipients[1]'",
        ),
        ({"marts": ["mart_revenue"], "dashboards": ["revenue-overview", ""]}, "parameter 'dashboards[1]' must be"),
        ({"marts": ["mart_revenue"], "dashboards": "revenue-overview"}, "parameter 'dashboards' must be a list"),
        (
            {"marts": ["mart_revenue"], "dashboards": ["revenue-overview", "nope"]},
            "unknown dashboard 'nope' in project 'acme-sales' (parameter 'dashboards[1]')",
        ),
        (
            {"marts": ["mart_revenue", "mart_of_nothing"], "dashboards": []},
            "unknown recipe 'mart_of_nothing' (not a dbt model, seed or snapshot) (parameter 'marts[1]')",
        ),
    ],
)
def test_a_bad_list_item_is_refused_naming_the_parameter_and_its_index(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str], parameters: dict, message: str
) -> None:
    assert apply_yaml(TEMPLATE + "---" + DASHBOARDS) == 0
    capsys.readouterr()
    assert apply_yaml(matrix(**parameters)) == 1
    assert message in capsys.readouterr().err
    with Session(boot(get_settings())) as session:
        assert [s for s in load_catalog(session).scenarios if s.template_slug] == []  # nothing half written


def test_the_contract_and_example_templates_load_unchanged(
    apply_yaml: ApplyYaml, contract_documents: list[dict], tmp_path: Any
) -> None:
    (template,) = [d for d in contract_documents if d["kind"] == "Template"]
    parsed = Template.model_validate(template)
    assert parsed.steps == template["steps"]
    assert next(p for p in parsed.parameters if p.name == "dashboards").type == "list[dashboard_ref]"

    # The examples, whose first template is the product doc's (`dashboard_ids: []`), apply as a whole.
    from honeyframe_dagster.cli import main as honeyframe

    assert honeyframe(["apply", str(EXAMPLES_DIR)]) == 0
    product_doc = instance("acme-sales", "nightly-mart-refresh")
    assert report_step(product_doc).dashboard_ids == [] and report_step(product_doc).recipients == ["ana@acme.example"]
    sales, ops = instance("acme-sales", "weekly-dashboard-mail"), instance("acme-ops", "weekly-dashboard-mail")
    assert report_step(sales).dashboard_ids == ["revenue-overview", "pipeline-health"]
    assert report_step(sales).recipients == ["ana@acme.example", "cfo@acme.example"]
    assert (report_step(ops).dashboard_ids, report_step(ops).recipients) == (["ops-kpis"], ["olaf@acme.example"])
    assert report_step(ops).format == "html"


def test_list_parameter_values_are_checked_item_by_item() -> None:
    emails = Parameter(name="to", type="list[email]")
    assert emails.coerce(["a@acme.example"]) == ["a@acme.example"]
    with pytest.raises(ValueError, match=r"parameter 'to\[0\]'.*'x'"):
        emails.coerce(["x"])
    with pytest.raises(ValueError, match="at most 100"):
        Parameter(name="names", type="list[string]").coerce(["n"] * 101)
    # A list placeholder inside a text cannot render.
    with pytest.raises(ValueError, match="list parameter 'names' must be the whole value"):
        Template.model_validate(
            {
                "slug": "t",
                "display_name": "T",
                "parameters": [{"name": "names", "type": "list[string]"}],
                "trigger": {"cron": "0 1 * * *"},
                "steps": [
                    {"kind": "send_email_report", "recipients": ["a@acme.example"], "subject": "{{ param.names }}!"}
                ],
            }
        )


ENABLE = "/api/scheduler/templates/weekly-mail/enable/acme-sales"


def test_enable_through_the_api_with_lists_then_again_with_new_values(
    api: api_fixtures.Api, apply_yaml: ApplyYaml
) -> None:
    assert apply_yaml(TEMPLATE + "---" + DASHBOARDS) == 0
    first = {"marts": ["mart_revenue"], "dashboards": ["revenue-overview"], "recipients": ["cfo@acme.example"]}
    enabled = api.call("POST", ENABLE, project=None, json={"parameters": first})
    assert enabled.status_code == 200, enabled.text
    cell = enabled.json()
    report = cell["steps"][1]
    assert report["dashboard_ids"] == ["revenue-overview"]
    assert report["recipients"] == ["ana@acme.example", "cfo@acme.example"]
    assert cell["steps"][0]["recipes"] == ["mart_revenue"]

    # New values win over the stored ones; values not given are kept; the instance (and its job) stays the same.
    second = {"dashboards": ["pipeline-health", "revenue-overview"], "recipients": []}
    again = api.call("POST", ENABLE, project=None, json={"parameters": second})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == cell["id"]
    assert again.json()["dagster"]["job_name"] == cell["dagster"]["job_name"] == "acme_sales__weekly_mail"
    assert again.json()["steps"][1]["dashboard_ids"] == ["pipeline-health", "revenue-overview"]
    assert again.json()["steps"][1]["recipients"] == ["ana@acme.example"]
    assert again.json()["steps"][0]["recipes"] == ["mart_revenue"]
    listed = api.call("GET", "/api/scheduler/templates", project=None).json()["items"]
    matrix_cell = next(t for t in listed if t["slug"] == "weekly-mail")
    assert matrix_cell["matrix"][0]["parameters"] == {**first, **second}

    # A bad item: 422 naming the parameter and the index, and the cell keeps its values.
    bad = api.call(
        "POST", ENABLE, project=None, json={"parameters": {"recipients": ["cfo@acme.example", "not an address"]}}
    )
    assert bad.status_code == 422, bad.text
    (error,) = bad.json()["detail"]
    assert error["loc"] == ["body", "parameters", "recipients", 1] and error["input"] == "not an address"
    assert "recipients[1]" in error["msg"]
    unknown = api.call("POST", ENABLE, project=None, json={"parameters": {"dashboards": ["revenue-overview", "nope"]}})
    assert unknown.status_code == 422, unknown.text
    (error,) = unknown.json()["detail"]
    assert error["loc"] == ["body", "parameters", "dashboards", 1] and error["input"] == "nope"
    assert "unknown dashboard 'nope'" in error["msg"]
    kept = api.call("GET", f"/api/scheduler/scenarios/{cell['id']}", project="acme-sales").json()
    assert kept["steps"][1]["dashboard_ids"] == ["pipeline-health", "revenue-overview"]
