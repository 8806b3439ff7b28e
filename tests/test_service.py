"""The write service (store/service.py): the one path of every mutation, with structured refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from honeyframe_dagster.model.documents import Dataset, Matrix, Scenario, Template
from honeyframe_dagster.model.errors import FieldError
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store import service
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ScenarioRow

RECIPE = {"kind": "run_recipe", "recipe": "mart_revenue"}
OWN = {"name": "weekly", "trigger": {"cron": "0 7 * * 1"}, "steps": [RECIPE]}


@pytest.fixture
def session(projects: None) -> Iterator[Session]:
    with Session(get_engine(get_settings().store_url)) as session:
        yield session


def test_create_update_delete_and_their_refusals(session: Session) -> None:
    row = service.create_scenario(session, "acme-sales", OWN, {"mart_revenue"})
    session.commit()
    with pytest.raises(service.Conflict, match="has a scenario named 'weekly' already"):
        service.create_scenario(session, "acme-sales", OWN, {"mart_revenue"})
    session.rollback()

    # A store-side check is one structured error: where in the document, what, and the value written there.
    bad = {**OWN, "name": "other", "steps": [{"kind": "run_recipe", "recipe": "nope"}]}
    with pytest.raises(service.Invalid) as refused:
        service.create_scenario(session, "acme-sales", bad, {"mart_revenue"})
    (error,) = refused.value.errors
    assert (error.loc, error.input) == (("steps", 0, "recipe"), "nope") and "unknown recipe 'nope'" in error.msg
    assert str(refused.value) == "steps[0].recipe: unknown recipe 'nope' (not a dbt model, seed or snapshot)"
    session.rollback()

    with pytest.raises(service.Invalid) as refused:
        service.update_scenario(session, "acme-sales", row.id, {"trigger": None}, None)
    assert refused.value.errors == [FieldError(("trigger",), "may not be null", None)]
    session.rollback()
    with pytest.raises(service.NotFound):
        service.update_scenario(session, "acme-ops", row.id, {"enabled": False}, None)
    session.rollback()

    written = service.update_scenario(session, "acme-sales", row.id, {"enabled": False}, None)
    assert written.disabled == service.Stopped("acme-sales", row.id, "weekly")
    session.commit()
    # Already disabled: nothing more to cancel.
    assert service.update_scenario(session, "acme-sales", row.id, {"enabled": False}, None).disabled is None
    session.commit()

    deleted = service.delete_scenario(session, service.deletable_scenario(session, "acme-sales", row.id))
    session.commit()
    assert deleted.scenario_id == row.id and session.get(ScenarioRow, row.id) is None


def test_apply_reports_disabled_scenarios_and_the_failing_document(session: Session) -> None:
    scenario = Scenario(project="acme-sales", **OWN)
    assert service.apply(session, [scenario], None) == []
    session.commit()
    off = scenario.model_copy(update={"enabled": False})
    (disabled,) = service.apply(session, [off], None)
    assert (disabled.project_id, disabled.name) == ("acme-sales", "weekly")
    session.rollback()

    unknown = Matrix(template="nope", project="acme-sales")
    with pytest.raises(service.Invalid) as refused:
        service.apply(session, [scenario, unknown], None)
    assert refused.value.index == 1
    assert refused.value.errors == [FieldError(("template",), "unknown template 'nope'", "nope")]


def test_template_instances_locate_errors_at_the_parameter(session: Session) -> None:
    template = Template(
        slug="marts",
        display_name="Marts",
        parameters=[{"name": "marts", "type": "list[recipe_ref]"}],
        trigger={"cron": "0 2 * * *"},
        steps=[{"kind": "run_recipe", "recipes": "{{ param.marts }}"}],
    )
    assert service.put_template(session, template, None) is True
    session.commit()
    with pytest.raises(service.Invalid) as refused:
        service.enable_template(session, "marts", "acme-ops", {"marts": ["mart_revenue", "nope"]}, {"mart_revenue"})
    (error,) = refused.value.errors
    assert (error.loc, error.input) == (("parameters", "marts", 1), "nope")
    assert "unknown recipe 'nope'" in error.msg and "(parameter 'marts[1]')" in error.msg
    session.rollback()

    enabled = service.enable_template(session, "marts", "acme-ops", {"marts": ["mart_revenue"]}, {"mart_revenue"})
    session.commit()
    assert enabled.reload and enabled.cell.enabled
    disabled = service.disable_template(session, "marts", "acme-ops")
    assert disabled.disabled == service.Stopped("acme-ops", enabled.cell.id, "marts") and not disabled.reload
    session.commit()
    with pytest.raises(service.NotFound, match="unknown template 'other'"):
        service.disable_template(session, "other", "acme-ops")


def test_a_dataset_table_of_another_project_is_refused_at_its_field(session: Session) -> None:
    connector = {"type": "file", "path": "orders.csv"}
    service.apply(session, [Dataset(id="orders", project="acme-sales", connector=connector)], None)
    session.commit()
    with pytest.raises(service.Invalid) as refused:
        service.apply(session, [Dataset(id="orders", project="acme-ops", connector=connector)], None)
    assert refused.value.errors == [FieldError(("table",), "table 'orders' belongs to project 'acme-sales'", "orders")]
    assert str(refused.value) == "table: table 'orders' belongs to project 'acme-sales'"
