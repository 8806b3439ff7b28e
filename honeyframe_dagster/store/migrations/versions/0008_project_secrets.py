"""secrets are granted per project

Adds `projects.secrets`: the HONEYFRAME_SECRET_* variables a project's documents may name
(honeyframe_dagster/model/secret_grants.py); only an admin sets it. Before, any project could name any
HONEYFRAME_SECRET_* variable, so each existing project is granted the secrets its stored documents name today
(its scenarios' steps, its template instances' steps as rendered with their parameters, its datasets' connectors,
its agents), and a warning says which went to which project: review them, and remove what a project should not
have (`secrets` in its Project document).

Revision ID: 0008
Revises: 0007
"""

import json
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("honeyframe.store")
_SECRET = re.compile(r"^HONEYFRAME_SECRET_[A-Z0-9_]+$")
# The fields in which a document names a variable (a step's `secrets` is a list of them).
_ENV_FIELDS = ("url_env", "base_url_env", "api_key_env", "webhook_env")
_PLACEHOLDER = re.compile(r"\{\{\s*param\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_projects = sa.table("projects", sa.column("id", sa.String), sa.column("secrets", sa.JSON))


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _named(config: Any) -> set[str]:
    """The HONEYFRAME_SECRET_* variables one step, connector or agent names in its own fields."""
    if not isinstance(config, dict):
        return set()
    values = [config.get(field) for field in _ENV_FIELDS]
    listed = config.get("secrets")
    values += listed if isinstance(listed, list) else []
    return {value for value in values if isinstance(value, str) and _SECRET.fullmatch(value)}


def _render(value: Any, params: dict[str, Any]) -> Any:
    """A template's step config with `{{ param.NAME }}` filled (a whole-string placeholder keeps its value's type)."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole:
            return params.get(whole.group(1))
        return _PLACEHOLDER.sub(lambda match: str(params.get(match.group(1), "")), value)
    if isinstance(value, dict):
        return {key: _render(item, params) for key, item in value.items()}
    if isinstance(value, list):
        rendered: list[Any] = []
        for item in value:
            result = _render(item, params)
            spliced = isinstance(item, str) and isinstance(result, list) and _PLACEHOLDER.fullmatch(item.strip())
            rendered.extend(result) if spliced else rendered.append(result)
        return rendered
    return value


def _template_steps(document: Any, parameters: Any) -> list[Any]:
    document = _json(document)
    if not isinstance(document, dict):
        return []
    params = {
        p["name"]: p.get("default")
        for p in document.get("parameters") or []
        if isinstance(p, dict) and isinstance(p.get("name"), str)
    }
    params.update(_json(parameters) if isinstance(_json(parameters), dict) else {})
    steps = _render(document.get("steps"), params)
    return steps if isinstance(steps, list) else []


def _named_today(connection: sa.Connection) -> dict[str, set[str]]:
    """Project -> the secrets its stored documents name."""
    named: dict[str, set[str]] = defaultdict(set)
    templates = dict(connection.execute(sa.text("SELECT slug, document FROM templates")).all())
    scenarios = connection.execute(sa.text("SELECT project_id, template_slug, parameters, steps FROM scenarios"))
    for project_id, slug, parameters, steps in scenarios:
        configs = _template_steps(templates.get(slug), parameters) if slug is not None else _json(steps)
        for step in configs if isinstance(configs, list) else []:
            named[project_id] |= _named(step)
    for table, part in (("datasets", "connector"), ("agents", None)):
        for project_id, document in connection.execute(sa.text(f"SELECT project_id, document FROM {table}")):
            document = _json(document)
            named[project_id] |= _named(document.get(part) if part and isinstance(document, dict) else document)
    return named


def upgrade() -> None:
    # Not a batch operation: on SQLite that copies and drops `projects`, and dropping it would delete every
    # project's scenarios and objects (ON DELETE CASCADE). SQLite adds a column with a constant default in place.
    op.add_column("projects", sa.Column("secrets", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    connection = op.get_bind()
    existing = set(connection.scalars(sa.select(_projects.c.id)))
    for project_id, secrets in sorted(_named_today(connection).items()):
        if project_id not in existing or not secrets:
            continue
        granted = sorted(secrets)
        connection.execute(sa.update(_projects).where(_projects.c.id == project_id).values(secrets=granted))
        log.warning(
            "project '%s' is granted the secrets its documents name: %s (Project.secrets; an admin may remove them)",
            project_id,
            ", ".join(granted),
        )


def downgrade() -> None:
    # In place on both stores (SQLite 3.35+), for the reason given in `upgrade`.
    op.execute("ALTER TABLE projects DROP COLUMN secrets")
