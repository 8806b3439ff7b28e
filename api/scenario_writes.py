"""Checks a scenario write against the store (references, upstream, cycles) before it is committed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.errors import ApiValidationError, error_item
from honeyframe_dagster.model.documents import Scenario
from honeyframe_dagster.model.hygiene import INT64_MAX
from honeyframe_dagster.model.scenario import Catalog, ScenarioError, resolve, upstream_name
from honeyframe_dagster.model.tenancy import TenancyError, written_tables
from honeyframe_dagster.store.catalog import load_catalog, load_scenario_catalog
from honeyframe_dagster.store.ownership import claim_tables
from honeyframe_dagster.store.tables import ScenarioRow
from honeyframe_dagster.store.writes import write_scenario_fields


def is_row_id(scenario_id: int) -> bool:
    """Ids are positive 64-bit integers; anything else names no row (and would overflow the database driver)."""
    return 1 <= scenario_id <= INT64_MAX


def scenario_row(session: Session, project_id: str, scenario_id: int) -> ScenarioRow:
    """The scenario, or 404 — also for another project's scenario, so ids do not leak."""
    row = session.get(ScenarioRow, scenario_id) if is_row_id(scenario_id) else None
    if row is None or row.project_id != project_id:
        raise HTTPException(404, f"no scenario {scenario_id} in project '{project_id}'")
    return row


def name_taken(session: Session, project_id: str, name: str) -> bool:
    statement = select(ScenarioRow.id).where(
        ScenarioRow.project_id == project_id, ScenarioRow.name == name, ScenarioRow.template_slug.is_(None)
    )
    return session.scalar(statement) is not None


def dependents(catalog: Catalog, project_id: str, name: str) -> list[str]:
    """Scenarios of the project whose upstream trigger names `name`."""
    return sorted(
        r.name
        for r in catalog.scenarios
        if r.project_id == project_id and r.name != name and upstream_name(r, catalog) == name
    )


def refuse_if_referenced(session: Session, project_id: str, name: str, action: str) -> None:
    found = dependents(load_catalog(session, [project_id]), project_id, name)
    if found:
        raise HTTPException(
            409, f"cannot {action} scenario '{name}': {', '.join(found)} trigger(s) on its success (trigger.upstream)"
        )


def scenario_document(raw: Mapping[str, Any]) -> Scenario:
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *e["loc"]], "msg": str(e["msg"]).removeprefix("Value error, "), "input": e.get("input")}
            for e in exc.errors()
        ]
        raise ApiValidationError(errors) from None


def write_checked(
    session: Session, row: ScenarioRow, document: Scenario, recipes: frozenset[str], body: Mapping[str, Any]
) -> None:
    """Write the document into the row, resolve it against the store and claim the warehouse tables it writes;
    422 (nothing kept) if it does not resolve or a table belongs to another project."""
    row.name = document.name
    try:
        write_scenario_fields(row, document)
        session.flush()
        catalog = load_scenario_catalog(session, row.id)
        record = next(r for r in catalog.scenarios if r.id == row.id)
        spec = resolve(record, catalog, recipes)
        claim_tables(session, row.project_id, written_tables(spec.steps, row.project_id, catalog))
    except (ScenarioError, TenancyError) as exc:
        raise ApiValidationError([error_item(str(exc), body)]) from None
