"""Reading the store into plain model objects."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from honeyframe_dagster.model.documents import Agent, Dashboard, Dataset, Project, Template
from honeyframe_dagster.model.scenario import Catalog, ScenarioRecord
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.tables import (
    AgentRow,
    DashboardRow,
    DatasetRow,
    ProjectRow,
    ScenarioRow,
    TemplateRow,
    WarehouseTableRow,
)


def project_model(row: ProjectRow) -> Project:
    return Project.model_construct(id=row.id, name=row.name, owner_email=row.owner_email, timezone=row.timezone)


def template_model(row: TemplateRow) -> Template:
    # Documents were validated on the way in; a re-validation here guards against hand edits.
    return Template.model_validate(row.document)


def scenario_record(row: ScenarioRow) -> ScenarioRecord:
    return ScenarioRecord(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        enabled=row.enabled,
        template_slug=row.template_slug,
        parameters=dict(row.parameters or {}),
        trigger=row.trigger,
        steps=row.steps,
        owner=row.owner,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def load_catalog(session: Session, project_ids: Collection[str] | None = None) -> Catalog:
    """The whole catalog, or only the given projects' part of it (templates are always whole)."""

    def scoped(statement, column):  # type: ignore[no-untyped-def]
        return statement if project_ids is None else statement.where(column.in_(list(project_ids)))

    catalog = Catalog(default_timezone=get_settings().default_timezone)
    for project in session.scalars(scoped(select(ProjectRow), ProjectRow.id)):
        catalog.projects[project.id] = project_model(project)
    for template in session.scalars(select(TemplateRow)):
        catalog.templates[template.slug] = template_model(template)
    rows = session.scalars(scoped(select(ScenarioRow), ScenarioRow.project_id).order_by(ScenarioRow.id))
    catalog.scenarios = [scenario_record(row) for row in rows]
    for table, target, model in (
        (DatasetRow, catalog.datasets, Dataset),
        (DashboardRow, catalog.dashboards, Dashboard),
        (AgentRow, catalog.agents, Agent),
    ):
        for row in session.scalars(scoped(select(table), table.project_id)):
            target[(row.project_id, row.id)] = model.model_validate(row.document)
    for claim in session.scalars(scoped(select(WarehouseTableRow), WarehouseTableRow.project_id)):
        catalog.table_owners[claim.name] = claim.project_id
    return catalog
