"""`/api/scheduler/triggers/preview`: a trigger's next instants before it is saved (writes nothing)."""

from __future__ import annotations

from dagster._time import get_current_datetime

from api.deps import PlannerDep, ProjectDep, SessionDep
from api.errors import ApiValidationError, translated
from api.routing import Router
from api.schemas import PreviewBody, PreviewResult, problem_responses
from honeyframe_dagster.model.instants import upcoming
from honeyframe_dagster.model.scenario import Catalog, ScenarioError, trigger_calendar
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store import service
from honeyframe_dagster.store.catalog import load_calendars

router = Router(
    prefix="/api/scheduler/triggers", tags=["triggers"], responses=problem_responses(400, 401, 403, 404, 422, 429, 503)
)


@router.post("/preview", response_model=PreviewResult, responses=problem_responses(413, 415))
def preview(body: PreviewBody, project_id: ProjectDep, session: SessionDep, planner: PlannerDep) -> PreviewResult:
    """The next `count` instants (UTC) of a trigger in the current project, as its schedule or sensor would fire
    them: the project's timezone unless the trigger has one, its calendar's excluded dates skipped. An invalid
    trigger is refused naming `trigger.<field>`, exactly as a scenario write refuses it. Nothing is written."""
    trigger = body.trigger
    with translated():
        project = service.project_row(session, project_id)
        try:
            calendar = trigger_calendar(trigger, project_id, Catalog(calendars=load_calendars(session, [project_id])))
        except ScenarioError as exc:
            raise service.invalid(exc, body.model_dump(mode="json", exclude_none=True)) from None
    if body.after is not None and body.after.utcoffset() is None:
        error = {"loc": ["body", "after"], "msg": "needs a UTC offset", "input": body.after.isoformat()}
        raise ApiValidationError([error])
    settings = planner.settings or get_settings()
    timezone = trigger.timezone or project.timezone or settings.default_timezone
    after = body.after or get_current_datetime()
    try:
        instants = upcoming(trigger, timezone, after, body.count, calendar)
    except (OverflowError, ValueError):  # instants past the year 9999
        message = "is too far in the future: the trigger's next instants are past the year 9999"
        raise ApiValidationError([{"loc": ["body", "after"], "msg": message, "input": after.isoformat()}]) from None
    return PreviewResult(instants=instants, timezone=timezone)
