"""The scenario store's schema (SQLAlchemy 2). Alembic migrations under `migrations/` create it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from honeyframe_dagster.clock import utcnow


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps none of the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, dt.datetime: UTCDateTime}


class _Timestamps:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProjectRow(_Timestamps, Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_email: Mapped[str] = mapped_column(String(254))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The HONEYFRAME_SECRET_* variables the project's documents may name (model/secret_grants.py); admins set it.
    secrets: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    # A paused project (POST .../projects/{id}/pause): every trigger stopped in Dagster, `enabled` untouched.
    paused_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    paused_by: Mapped[str | None] = mapped_column(String(200), default=None)
    pause_note: Mapped[str | None] = mapped_column(Text, default=None)


class TemplateRow(_Timestamps, Base):
    __tablename__ = "templates"
    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    default_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The validated Template document (parameters, trigger, steps) as JSON.
    document: Mapped[dict[str, Any]]
    # 1 when created, +1 at each change of the document: its instances' versions say `template <slug> v<n>`.
    version: Mapped[int] = mapped_column(Integer, default=1)


def _unique_where(name: str, column: str, where: str) -> Index:
    """A unique index over (project_id, `column`) of the rows where `where` holds, on SQLite and Postgres alike."""
    return Index(name, "project_id", column, unique=True, sqlite_where=text(where), postgresql_where=text(where))


class ScenarioRow(_Timestamps, Base):
    """A project's own scenario, or one cell of the enable matrix (`template_slug` set)."""

    __tablename__ = "scenarios"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    template_slug: Mapped[str | None] = mapped_column(ForeignKey("templates.slug", ondelete="CASCADE"))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    trigger: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    steps: Mapped[list[Any] | None] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    owner: Mapped[str | None] = mapped_column(String(254))
    # Its `sla` (model/sla.py) as JSON; None: none. Misses are rows of `sla_misses`.
    sla: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The scenario as compiled at its last write (store/versions.py): its current version (None: not compiled
    # yet), why it does not compile (None: it does), the kind of its trigger (schedule, sensor; None: broken).
    version: Mapped[int | None] = mapped_column(Integer)
    compile_error: Mapped[str | None] = mapped_column(Text)
    trigger_kind: Mapped[str | None] = mapped_column(String(16))
    # Whether Dagster ran the trigger when the reconciler (honeyframe_dagster/reconciler.py) last set or saw its
    # status; None: never seen. A Dagster status that differs from it was changed in Dagster (its UI).
    dagster_running: Mapped[bool | None] = mapped_column(Boolean)
    # Why, by whom (the token's name, `apply`, `dagster-ui`) and when it was disabled; cleared when enabled.
    pause_note: Mapped[str | None] = mapped_column(Text, default=None)
    paused_by: Mapped[str | None] = mapped_column(String(200), default=None)
    paused_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Where a migrated scenario came from (legacy table and row id), so a re-run creates no duplicates.
    source_table: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        _unique_where("uq_scenarios_project_name", "name", "template_slug IS NULL"),
        _unique_where("uq_scenarios_project_template", "template_slug", "template_slug IS NOT NULL"),
        UniqueConstraint("source_table", "source_id", name="uq_scenarios_source"),
        # Ids are never reused (migration 0003): runs in Dagster are found by the scenario id tag.
        {"sqlite_autoincrement": True},
    )


class SlaMissRow(Base):
    """An instant of a scenario whose run had not succeeded within its `sla` (factory/sla.py): alerted once, and
    `recovered_at` once a late success was reported."""

    __tablename__ = "sla_misses"
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"), primary_key=True)
    instant: Mapped[dt.datetime] = mapped_column(primary_key=True)
    # What the run was at the check: never created, QUEUED, STARTED, FAILURE, ...
    state: Mapped[str] = mapped_column(String(64))
    alerted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recovered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ScenarioVersionRow(Base):
    """One compiled version of a scenario (store/versions.py): immutable once written."""

    __tablename__ = "scenario_versions"
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The resolved scenario (templates rendered, placeholders filled, timezone and owner decided) as JSON.
    spec: Mapped[dict[str, Any]]
    # Hash of `spec`; `config_hash` leaves out what a run does not depend on (enabled, when the cadence started).
    spec_hash: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    # Of what makes the Dagster job and trigger (model/compiled.py `shape_hash`): equal means no reload is needed.
    shape_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    # The field paths that changed from the previous version (`steps[1].recipients`).
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)


class CalendarRow(_Timestamps, Base):
    """A calendar (model/calendars.py): org-wide (`project_id` NULL) or a project's own."""

    __tablename__ = "calendars"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    # The validated Calendar document as JSON.
    document: Mapped[dict[str, Any]]

    __table_args__ = (
        _unique_where("uq_calendars_project_id", "id", "project_id IS NOT NULL"),
        Index(
            "uq_calendars_org_id",
            "id",
            unique=True,
            sqlite_where=text("project_id IS NULL"),
            postgresql_where=text("project_id IS NULL"),
        ),
    )


class BackfillRow(Base):
    """A backfill requested through the API: one run per instant, each tagged `honeyframe/backfill` = its id."""

    __tablename__ = "backfills"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    range_from: Mapped[dt.datetime]
    range_to: Mapped[dt.datetime]
    # The instants (UTC ISO 8601), oldest first.
    instants: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # How many runs were handed to Dagster so far; why launching stopped, if it did.
    launched: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class _ProjectObject(_Timestamps):
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    document: Mapped[dict[str, Any]]


class DatasetRow(_ProjectObject, Base):
    __tablename__ = "datasets"


class DashboardRow(_ProjectObject, Base):
    __tablename__ = "dashboards"


class AgentRow(_ProjectObject, Base):
    __tablename__ = "agents"


ProjectObjectRow = DatasetRow | DashboardRow | AgentRow


class WarehouseTableRow(Base):
    """A warehouse table and the one project that owns it (see model/tenancy.py); the key makes claims race-free."""

    __tablename__ = "warehouse_tables"
    # Lower-case: DuckDB resolves table names case-insensitively.
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When a step of the project first set out to write the table (None: never); a written table stays claimed.
    written_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    # An admin token is org-wide (no projects); a project token lists the projects it may act on.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    projects: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # None: never expires. A revoked token is deleted.
    expires_at: Mapped[dt.datetime | None]
    # Written at most once a minute per token (honeyframe_dagster.tokens.LAST_USED_RESOLUTION).
    last_used_at: Mapped[dt.datetime | None]


class AdminSessionRow(Base):
    """A login to the admin pages: the cookie holds a random session id, the store only its SHA-256. It ends when it
    expires, at logout, or when its token is revoked (deleted: the foreign key cascades)."""

    __tablename__ = "admin_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class SchedulerWorkerRow(Base):
    __tablename__ = "scheduler_workers"
    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_seen_at: Mapped[dt.datetime] = mapped_column(index=True)
    current_scenario_id: Mapped[int | None] = mapped_column(Integer)


class DeploymentSettingRow(Base):
    """Facts about the deployment that every process must agree on, e.g. how many code locations (shards) split
    the projects (honeyframe_dagster.shards): kept in the store, which every host shares."""

    __tablename__ = "deployment_settings"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
