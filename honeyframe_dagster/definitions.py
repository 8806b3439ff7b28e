"""A scenario code location: `dagster code-server start -m honeyframe_dagster.definitions` or `workspace.yaml`
load `defs`. Importing this module reads nothing and writes nothing; loading `defs` never writes the store.

Dagster tells two loads apart (DefinitionsLoadContext):
- initialization (a code server, `dagster dev`, a test): check that the store is ready (read-only: a store that is
  behind names `honeyframe init`), read this shard's catalog, build every job, schedule and sensor, and hand
  the index "job name → scenario id" to run workers as reconstruction metadata;
- reconstruction in a run worker: a repository whose jobs are built on demand from that index (job name →
  scenario id and the version loaded), so the worker builds the run's job only, from that immutable version,
  without reading the shard or the dbt manifest: a run is the job it was launched as, whatever was edited since.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from dagster import Definitions, JobDefinition, RepositoryDefinition, definitions
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType
from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME, CachingRepositoryData
from sqlalchemy.orm import Session

from honeyframe_dagster.model.naming import shard_attribute
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.engine import get_engine

if TYPE_CHECKING:
    from honeyframe_dagster.model.scenario import ScenarioSpec

JOBS_METADATA_KEY = "honeyframe/jobs"

Shard = tuple[int, int] | None
# This process's latest initialization of each shard it serves, by load id: a code server loads `defs` twice
# (initialization, then reconstruction from the metadata the first load left), and must serve the full definitions
# both times. One process may serve several shards (services/code_server.py).
_initialized: dict[str, Definitions] = {}
_latest_load: dict[Shard, str] = {}
# The jobs of each shard's latest initialization, with their specs: the next load of that shard (a reload in place,
# services/code_server.py) takes the unchanged ones as they are.
_built_jobs: dict[Shard, dict[str, tuple[ScenarioSpec, JobDefinition]]] = {}


def load_definitions(shard: Shard = None) -> Definitions:
    """Every job, schedule and sensor of a shard (default: HONEYFRAME_SHARD's), from the scenarios' current versions
    in the store."""
    # Imported here, not at the top: a run worker never needs the readiness check, the planner or the manifest.
    from honeyframe_dagster.boot import check_ready, shard_scenarios
    from honeyframe_dagster.dbt import load_manifest, recipe_names
    from honeyframe_dagster.factory.definitions import build_definitions
    from honeyframe_dagster.factory.plan import plan

    settings = get_settings()
    shard = shard or settings.shard_slice
    engine = get_engine(settings.store_url)
    check_ready(engine)
    compiled = shard_scenarios(engine, shard)
    planned = plan(compiled, recipe_names(load_manifest()), shard)
    load_id = uuid.uuid4().hex
    jobs = {e.job_name: [e.record.id, e.spec.version] for e in planned if e.spec is not None}
    index = {"load": load_id, "jobs": jobs}
    metadata = {JOBS_METADATA_KEY: json.dumps(index, separators=(",", ":"))}
    DefinitionsLoadContext.get().add_to_pending_reconstruction_metadata(JOBS_METADATA_KEY, metadata[JOBS_METADATA_KEY])
    built = build_definitions(planned, _built_jobs.get(shard))
    _initialized.pop(_latest_load.get(shard, ""), None)
    _initialized[load_id], _latest_load[shard] = built, load_id
    _built_jobs[shard] = {e.job_name: (e.spec, built.get_job_def(e.job_name)) for e in planned if e.spec is not None}
    return built


def build_run_job(name: str, scenario_id: int, version: int | None) -> JobDefinition:
    """One scenario's job, built from the version the code location had loaded when the run was launched (an
    immutable row of the store): what a run worker needs, nothing more, and the same job however the scenario was
    edited since."""
    from honeyframe_dagster.factory.jobs import build_job
    from honeyframe_dagster.store.versions import version_spec

    with Session(get_engine(get_settings().store_url)) as session:
        spec = version_spec(session, scenario_id, version)
    if spec is None:
        raise LookupError(f"job {name}: version {version} of scenario {scenario_id} is no longer in the store")
    return build_job(spec, name)


def _on_demand(name: str, scenario_id: int, version: int | None) -> Callable[[], JobDefinition]:
    # A plain function, as Dagster's repository data takes for a job built when first asked for.
    def build() -> JobDefinition:
        return build_run_job(name, scenario_id, version)

    return build


def job_repository(jobs: Mapping[str, int | list[int]]) -> RepositoryDefinition:
    """The location's jobs by name (scenario id and version), each built only when asked for."""
    lazy = {}
    for name, value in jobs.items():
        scenario_id, version = (value[0], value[1]) if isinstance(value, list) else (value, None)
        lazy[name] = _on_demand(name, scenario_id, version)
    return RepositoryDefinition(
        SINGLETON_REPOSITORY_NAME, repository_data=CachingRepositoryData.from_dict({"jobs": lazy})
    )


def _load(shard: Shard) -> Definitions | RepositoryDefinition:
    context = DefinitionsLoadContext.get()
    if context.load_type == DefinitionsLoadType.RECONSTRUCTION:
        serialized = context.reconstruction_metadata.get(JOBS_METADATA_KEY)
        if serialized is not None:
            index = json.loads(serialized)
            return _initialized.get(index["load"]) or job_repository(index["jobs"])
    return load_definitions(shard)


# Dagster's loader takes a RepositoryDefinition from a `@definitions` function as well (run workers get the lazy
# repository of one job); its type hints only name Definitions.
@definitions  # type: ignore[arg-type]
def defs() -> Definitions | RepositoryDefinition:
    """The shard HONEYFRAME_SHARD names (all scenarios when it is unset)."""
    return _load(None)


_shard_defs: dict[str, object] = {}


def __getattr__(name: str) -> object:
    """`shard_<i>_of_<n>` (model/naming.py `shard_attribute`): the definitions of shard i of n, whatever
    HONEYFRAME_SHARD says. A code server serving several shards in one process (services/code_server.py) names each
    location's target so; a run worker loads the same attribute."""
    index, _, count = name.removeprefix("shard_").partition("_of_")
    if not (index.isdigit() and count.isdigit() and shard_attribute(int(index), int(count)) == name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not int(index) < int(count):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}: shard {index} of {count}")
    if name not in _shard_defs:
        shard = (int(index), int(count))
        _shard_defs[name] = definitions(lambda: _load(shard))  # type: ignore[arg-type]
    return _shard_defs[name]
