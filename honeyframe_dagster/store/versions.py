"""Scenario versions: every write compiles what it touched once, and everything after reads what it stored.

`compile_scenario` resolves one scenario against the write's catalog (model/scenario.py `resolve`: templates,
parameters, placeholders, references, tenancy and SQL policy) and, when the result differs from the current
version, stores it as the next immutable version (model/compiled.py) with who wrote it and which fields changed. A
scenario that does not resolve keeps its last version and records why (`compile_error`): it shows as that
scenario's error and builds no job; the others are untouched.

Who wrote is the session's actor (`set_actor`): the API sets the token's name, `honeyframe apply` "apply", the
reconciler "dagster-ui"; a template's change writes its instances' versions as "template <slug> v<n>".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.model.compiled import (
    CompiledScenarios,
    cached_spec,
    changed_paths,
    config_hash,
    scenario_document,
    shape_hash,
    spec_from_compiled,
    spec_hash,
    trigger_unchanged,
)
from honeyframe_dagster.model.errors import InvalidDocument
from honeyframe_dagster.model.scenario import (
    Catalog,
    ScenarioError,
    ScenarioRecord,
    ScenarioSpec,
    first_error,
    resolve,
)
from honeyframe_dagster.model.schedule_grid import trigger_kind
from honeyframe_dagster.model.steps import STEPS_ADAPTER
from honeyframe_dagster.model.tenancy import TenancyError
from honeyframe_dagster.model.triggers import Trigger
from honeyframe_dagster.store.tables import ScenarioRow, ScenarioVersionRow

_ACTOR = "honeyframe.actor"
# session.info key: the scenarios whose new version changed their job's or trigger's shape (they need a reload).
_RESHAPED = "honeyframe.reshaped"
UNKNOWN_ACTOR = "unknown"


def set_actor(session: Session, actor: str) -> None:
    """Who the session's writes are by (a version's `created_by`)."""
    session.info[_ACTOR] = actor[:200]


def actor_of(session: Session) -> str:
    return str(session.info.get(_ACTOR, UNKNOWN_ACTOR))


def reshaped(session: Session) -> set[int]:
    """The scenarios this session gave a version of another shape (new ones included): their code location must
    reload; any other new version is live without one (its runs carry its config)."""
    return set(session.info.get(_RESHAPED, set()))


def _current(session: Session, row: ScenarioRow) -> ScenarioVersionRow | None:
    if row.version is None:
        return None
    return session.get(ScenarioVersionRow, (row.id, row.version))


def record_version(session: Session, row: ScenarioRow, spec: ScenarioSpec, created_by: str | None = None) -> bool:
    """Store `spec` as the row's next version unless it is the current one; True when a version was written."""
    current = _current(session, row)
    before = current.spec if current is not None else None
    document = scenario_document(spec, None)
    since = before.get("since") if before is not None and trigger_unchanged(before, document) else None
    document["since"] = since or utcnow().isoformat()
    row.compile_error = None
    row.trigger_kind = trigger_kind(spec.trigger, spec.timezone) if spec.trigger is not None else None
    if current is not None and current.spec_hash == spec_hash(document):
        return False
    number = (row.version or 0) + 1
    shape = shape_hash(document)
    if current is None or current.shape_hash != shape:
        session.info.setdefault(_RESHAPED, set()).add(row.id)
    session.add(
        ScenarioVersionRow(
            scenario_id=row.id,
            version=number,
            spec=document,
            spec_hash=spec_hash(document),
            config_hash=config_hash(document),
            shape_hash=shape,
            created_at=utcnow(),
            created_by=created_by or actor_of(session),
            changes=changed_paths(before, document) if before is not None else [],
        )
    )
    row.version = number
    return True


def record_error(row: ScenarioRow, error: str) -> None:
    """The row does not compile now: it keeps its last version (what ran before), and shows this error."""
    row.compile_error = error[:4000]
    row.trigger_kind = None


def compile_scenario(
    session: Session,
    row: ScenarioRow,
    catalog: Catalog,
    recipes: Collection[str] | None,
    created_by: str | None = None,
) -> str | None:
    """Resolve the row against `catalog` and record its version, or its error (returned)."""
    record = next((r for r in catalog.scenarios if r.id == row.id), None)
    if record is None:
        record_error(row, f"scenario {row.id} is not in the catalog it was compiled with")
        return row.compile_error
    try:
        spec = resolve(record, catalog, recipes)
    except (ScenarioError, TenancyError) as exc:
        record_error(row, describe_error(record, exc))
        return row.compile_error
    record_version(session, row, spec, created_by)
    return None


def describe_error(record: ScenarioRecord, exc: InvalidDocument) -> str:
    return f"scenario {record.id} '{record.name}' of project '{record.project_id}': {exc}"


def stamp_pause(row: ScenarioRow, enabled: bool, by: str, note: str | None = None) -> None:
    """A scenario turned off records who paused it, when and why (`note`); turned on, that is cleared."""
    if enabled:
        row.pause_note, row.paused_by, row.paused_at = None, None, None
    else:
        row.pause_note, row.paused_by, row.paused_at = note, by[:200], utcnow()


def set_enabled(
    session: Session, row: ScenarioRow, enabled: bool, created_by: str | None = None, note: str | None = None
) -> bool:
    """Turn a scenario on or off as a new version of what it is (nothing is resolved again): a toggle in Dagster's
    UI, a matrix cell disabled. True when it changed."""
    if row.enabled == enabled:
        return False
    row.enabled = enabled
    stamp_pause(row, enabled, created_by or actor_of(session), note)
    current = _current(session, row)
    if current is not None and row.compile_error is None:
        record = ScenarioRecord(row.id, row.project_id, row.name, enabled, row.template_slug, row.parameters or {})
        spec = spec_from_compiled(record, current.spec)
        record_version(session, row, spec, created_by)
    session.flush()
    return True


# --- reads -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: dt.datetime
    created_by: str
    changes: list[str]


def version_count(session: Session, scenario_id: int) -> int:
    statement = select(func.count()).where(ScenarioVersionRow.scenario_id == scenario_id)
    return int(session.scalar(statement) or 0)


def list_versions(session: Session, scenario_id: int, offset: int = 0, limit: int | None = None) -> list[VersionInfo]:
    """The scenario's versions, newest first (without their specs)."""
    statement = (
        select(
            ScenarioVersionRow.version,
            ScenarioVersionRow.created_at,
            ScenarioVersionRow.created_by,
            ScenarioVersionRow.changes,
        )
        .where(ScenarioVersionRow.scenario_id == scenario_id)
        .order_by(ScenarioVersionRow.version.desc())
        .offset(offset)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [
        VersionInfo(number, created_at, created_by, list(changes or []))
        for number, created_at, created_by, changes in session.execute(statement).tuples()
    ]


def get_version(session: Session, scenario_id: int, version: int) -> ScenarioVersionRow | None:
    return session.get(ScenarioVersionRow, (scenario_id, version))


def load_compiled(session: Session, where: Any) -> CompiledScenarios:
    """The scenarios `where` selects with the specs of their current versions: rebuilt once per process and
    version (model/compiled.py), so only versions this process has not seen are read, in one query per 500."""
    from honeyframe_dagster.store.catalog import scenario_records

    compiled = CompiledScenarios(scenario_records(session, where, light=True))
    missing: dict[int, ScenarioRecord] = {}
    for record in compiled.records:
        spec = cached_spec(record)
        if record.compile_error is not None:  # it does not compile now: it builds nothing, whatever it was
            compiled.errors[record.id] = record.compile_error
        elif spec is not None:
            compiled.specs[record.id] = spec
        elif record.version is None:
            compiled.errors[record.id] = ""  # said below, once its raw fields are read
        else:
            missing[record.id] = record
    ids = list(missing)
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        statement = (
            select(ScenarioVersionRow.scenario_id, ScenarioVersionRow.spec)
            .join(
                ScenarioRow,
                (ScenarioRow.id == ScenarioVersionRow.scenario_id)
                & (ScenarioRow.version == ScenarioVersionRow.version),
            )
            .where(ScenarioRow.id.in_(chunk))
        )
        for scenario_id, document in session.execute(statement).tuples():
            record = missing[scenario_id]
            try:
                compiled.specs[scenario_id] = spec_from_compiled(record, document)
            except (ValidationError, KeyError, TypeError, ValueError) as exc:
                # A hand-edited version: that scenario's error, never the others'.
                compiled.errors[scenario_id] = (
                    f"scenario {record.id} '{record.name}' of project '{record.project_id}': stored version "
                    f"{record.version} does not load ({type(exc).__name__})"
                )
    _add_raw_fields(session, compiled)
    for record in compiled.records:
        if compiled.errors.get(record.id) == "":
            compiled.errors[record.id] = not_compiled(record)
    return compiled


def not_compiled(record: ScenarioRecord) -> str:
    """Why a row that was never compiled (written behind the write path's back, or before versions existed) builds
    nothing: the first field of it that does not validate, else that `honeyframe init` compiles it."""
    where = f"scenario {record.id} '{record.name}' of project '{record.project_id}'"
    try:
        if record.template_slug is None:
            Trigger.model_validate(record.trigger)
            STEPS_ADAPTER.validate_python(record.steps)
        elif not isinstance(record.parameters, Mapping):
            return f"{where}: parameters: stored value is not an object: {record.parameters!r:.200}"
    except ValidationError as exc:
        return f"{where}: {first_error(exc).line}"
    return f"{where} is not compiled yet: run `honeyframe init` (or write it again)"


def _add_raw_fields(session: Session, compiled: CompiledScenarios) -> None:
    """A scenario without a loadable version is shown as written (its raw trigger and steps, which the light
    records leave out, each decoded on its own); there are few such."""
    from honeyframe_dagster.store.catalog import scenario_records

    broken = [r.id for r in compiled.records if r.id in compiled.errors]
    if not broken:
        return
    raw = {record.id: record for record in scenario_records(session, ScenarioRow.id.in_(broken))}
    compiled.records = [
        replace(r, trigger=raw[r.id].trigger, steps=raw[r.id].steps, parameters=raw[r.id].parameters)
        if r.id in raw
        else r
        for r in compiled.records
    ]


def version_spec(session: Session, scenario_id: int, version: int | None) -> ScenarioSpec | None:
    """The spec of one stored version (None: the current one); None when there is no such version."""
    row = session.get(ScenarioRow, scenario_id)
    if row is None:
        return None
    number = row.version if version is None else version
    stored = session.get(ScenarioVersionRow, (scenario_id, number)) if number is not None else None
    if stored is None:
        return None
    enabled = bool(stored.spec.get("enabled", row.enabled))
    name = str(stored.spec.get("name", row.name))
    record = ScenarioRecord(
        row.id, row.project_id, name, enabled, row.template_slug, version=stored.version, spec_hash=stored.spec_hash
    )
    return spec_from_compiled(record, stored.spec)


def uncompiled(session: Session, project_ids: Iterable[str] | None = None) -> list[ScenarioRow]:
    """Rows never compiled (created before versions existed, or added without a check: a new project's
    `default_enabled` cells) and rows whose last compile failed (a later write may have mended them)."""
    statement = select(ScenarioRow).where((ScenarioRow.version.is_(None)) | (ScenarioRow.compile_error.is_not(None)))
    if project_ids is not None:
        statement = statement.where(ScenarioRow.project_id.in_(list(project_ids)))
    return list(session.scalars(statement.order_by(ScenarioRow.id)))


__all__ = [
    "UNKNOWN_ACTOR",
    "VersionInfo",
    "actor_of",
    "compile_scenario",
    "load_compiled",
    "describe_error",
    "get_version",
    "list_versions",
    "record_error",
    "record_version",
    "reshaped",
    "set_actor",
    "set_enabled",
    "stamp_pause",
    "uncompiled",
    "version_count",
]
