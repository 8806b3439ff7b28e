"""Quotas of the store: how many scenarios one project may hold (`HONEYFRAME_MAX_SCENARIOS_PER_PROJECT`).

Every path that adds a scenario row asks `check_room` first, under the project's write lock (`writes.lock_projects`),
so concurrent creates cannot together pass the limit: an API create (`service.create_scenario`), a template enabled
for a project that has no instance of it yet (`service.enable_template`, and `apply` of a Matrix through
`writes.upsert_matrix`), and `apply` of a new Scenario (`writes.upsert_scenario`). Template instances count like
a project's own scenarios. Existing rows are never removed: a project already over a lowered limit keeps its
scenarios, and can edit or delete them, but not add one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from honeyframe_dagster.model.errors import FieldError
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.tables import ScenarioRow

SETTING = "HONEYFRAME_MAX_SCENARIOS_PER_PROJECT"


def scenario_count(session: Session, project_id: str) -> int:
    statement = select(func.count()).select_from(ScenarioRow).where(ScenarioRow.project_id == project_id)
    return int(session.scalar(statement) or 0)


def check_room(session: Session, project_id: str, refusal: Callable[[Sequence[FieldError]], Exception]) -> None:
    """Raise `refusal([error])` (the caller's error type) when the project may not get one more scenario."""
    limit = get_settings().max_scenarios_per_project
    count = scenario_count(session, project_id)
    if count >= limit:
        message = (
            f"project '{project_id}' holds {count} scenarios, the most {SETTING} allows ({limit}): "
            "delete one, or ask the operator to raise the limit"
        )
        raise refusal([FieldError((), message, project_id)])
