"""One legacy schedule row → the fields of one project Scenario (pure; no database), and the write service's
refusal of them said of the legacy columns."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from honeyframe_dagster.model.errors import FieldError, InvalidDocument
from honeyframe_dagster.model.kinds import registered

Row = Mapping[str, Any]

# Which legacy column a Scenario field came from, per table, so a reason names what the operator must fix.
_COLUMNS: dict[str, dict[str, str]] = {
    "report_schedules": {
        "project": "project_id",
        "name": "name",
        "owner": "owner_email",
        "trigger.cron": "cron",
        "trigger.timezone": "timezone",
        "steps.0.dashboard_ids": "dashboard_ids",
        "steps.0.recipients": "recipients",
        "steps.0.format": "format",
        "steps.0.time_filter": "time_filter",
    },
    "pipeline_schedules": {
        "project": "project_id",
        "owner": "created_by",
        "trigger.cron": "cron_expression",
        "trigger.timezone": "cron_timezone",
        "steps.0": "recipe",
    },
    "project_cron_jobs": {"project": "project_id", "trigger.cron": "schedule", "steps.0": "options"},
}
# The field of each cron-job action's step that `target` fills.
_TARGET_FIELD = {kind: entry.legacy_target for kind, entry in registered().items() if entry.legacy_target is not None}
MAX_NAME = 200


class LegacyRowError(InvalidDocument):
    """A legacy row that cannot become a scenario; the error is located at the legacy column, with its value."""


def report_scenario(row: Row) -> dict[str, Any]:
    try:
        dashboards = json.loads(row["dashboard_ids"])
    except (TypeError, ValueError):
        raise _not_json("dashboard_ids", "array", row) from None
    if not isinstance(dashboards, list):
        raise _not_json("dashboard_ids", "array", row)
    step = {
        "kind": "send_email_report",
        "dashboard_ids": dashboards,
        "recipients": [part for part in re.split(r"[,;\s]+", row["recipients"] or "") if part],
        "format": row["format"],
        "time_filter": row["time_filter"],
    }
    return {
        "project": row["project_id"],
        "name": row["name"],
        "enabled": bool(row["enabled"]),
        "owner": row["owner_email"],
        "trigger": {"cron": row["cron"], "timezone": row["timezone"] or "UTC"},
        "steps": [{key: value for key, value in step.items() if value is not None}],
    }


def pipeline_scenario(row: Row) -> dict[str, Any]:
    recipes = (row["recipe"] or "").split()
    step: dict[str, Any] = {"kind": "run_recipe"}
    if len(recipes) == 1:
        step["recipe"] = recipes[0]
    else:
        step["recipes"] = recipes
    return {
        "project": row["project_id"],
        "name": f"pipeline {' '.join(recipes)}",
        "enabled": bool(row["is_active"]),
        "owner": row["created_by"],
        "trigger": {"cron": row["cron_expression"], "timezone": row["cron_timezone"] or "UTC"},
        "steps": [step],
    }


def cron_job_scenario(row: Row) -> dict[str, Any]:
    action, target = row["action"], row["target"]
    field = _TARGET_FIELD.get(action)
    if field is None:
        raise LegacyRowError.at(
            ("action",), f"unknown action {action!r} (expected one of {', '.join(_TARGET_FIELD)})", action
        )
    try:
        options = json.loads(row["options"]) if row["options"] else {}
    except ValueError:
        raise _not_json("options", "object", row) from None
    if not isinstance(options, dict):
        raise _not_json("options", "object", row)
    clash = sorted({"kind", field} & set(options))
    if clash:
        raise LegacyRowError.at(
            ("options",), f"must not set {', '.join(clash)} (the row's action and target do)", row["options"]
        )
    return {
        "project": row["project_id"],
        "name": f"{action} {target}",
        "enabled": bool(row["enabled"]),
        "owner": None,
        # The per-project cron table always ran in UTC.
        "trigger": {"cron": row["schedule"], "timezone": "UTC"},
        "steps": [{"kind": action, field: target, **options}],
    }


CONVERTERS: dict[str, Callable[[Row], dict[str, Any]]] = {
    "report_schedules": report_scenario,
    "pipeline_schedules": pipeline_scenario,
    "project_cron_jobs": cron_job_scenario,
}


def to_scenario(table: str, row: Row, name: str | None = None) -> dict[str, Any]:
    """The Scenario fields of one legacy row, unchecked (`name` overrides the derived name); LegacyRowError for a
    row that does not even convert. The write service checks the rest (`legacy_error` says its refusal)."""
    fields = CONVERTERS[table](row)
    fields["name"] = (name or fields["name"])[:MAX_NAME]
    return fields


def _not_json(column: str, what: str, row: Row) -> LegacyRowError:
    return LegacyRowError.at((column,), f"not a JSON {what}: {row[column]!r}", row[column])


def legacy_error(table: str, errors: Sequence[FieldError]) -> LegacyRowError:
    """The first of the errors the write service found in a row's Scenario, located at the legacy column."""
    error = errors[0]
    # pydantic names a step's kind in its path (`steps.0.run_recipe.recipe`); the resolver does not.
    parts = [str(p) for i, p in enumerate(error.loc) if not (i == 2 and error.loc[0] == "steps" and p in registered())]
    path = ".".join(parts)
    columns = _COLUMNS[table]
    # The longest Scenario field path that maps to a legacy column names it; else the field path itself.
    prefix = max((p for p in columns if path == p or path.startswith(p + ".")), key=len, default=None)
    where = columns[prefix] if prefix is not None else path
    value = error.input
    shown = "" if isinstance(value, dict | list) or repr(value) in error.msg else f" (value: {value!r})"
    return LegacyRowError([FieldError((where,), error.msg, value, f"{where}: {error.msg}{shown}")])
