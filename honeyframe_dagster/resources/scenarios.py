"""The scenario store as a Dagster resource: ops read the project's objects and, for a run without run config, the
version it is tagged with."""

from __future__ import annotations

from collections.abc import Mapping

from dagster import ConfigurableResource
from sqlalchemy.orm import Session

from honeyframe_dagster.dbt import load_manifest, recipe_names
from honeyframe_dagster.model.errors import Loc
from honeyframe_dagster.model.scenario import Catalog, ScenarioSpec
from honeyframe_dagster.model.tenancy import table_key
from honeyframe_dagster.settings import Settings
from honeyframe_dagster.store.catalog import load_catalog
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.ownership import claim_tables, foreign_tables, mark_written, owned_tables
from honeyframe_dagster.store.versions import version_spec


class ScenarioNotFound(LookupError):
    pass


class ScenarioStoreResource(ConfigurableResource):
    """Reads the scenario store at `url` (a SQLAlchemy URL)."""

    url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ScenarioStoreResource:
        """The scenario store (HONEYFRAME_DATABASE_URL, else the SQLite file under HONEYFRAME_HOME).

        Built in the process that runs a step, never part of run config, so its password is shown nowhere."""
        return cls(url=settings.store_url)

    def version_spec(self, scenario_id: int, version: int | None) -> ScenarioSpec:
        """One stored version of the scenario (None: its current one); versions are immutable."""
        with Session(get_engine(self.url)) as session:
            spec = version_spec(session, scenario_id, version)
        if spec is None:
            raise ScenarioNotFound(f"version {version} of scenario {scenario_id} is not in the store")
        return spec

    def project_catalog(self, project_id: str) -> Catalog:
        """The project's datasets, dashboards and agents, and every table's owner, as the store holds them now."""
        with Session(get_engine(self.url)) as session:
            return load_catalog(session, [project_id])

    def dbt_tables(self) -> frozenset[str]:
        """The dbt project's models, seeds and snapshots: readable by every project, writable by none."""
        return frozenset(table_key(name) for name in recipe_names(load_manifest()))

    def readable_tables(self, project_id: str) -> frozenset[str]:
        """What the project's SQL may read now: the tables it owns in the store, and the dbt project's but for a
        seed that another project's dataset stands in for (that table is the other project's data)."""
        with Session(get_engine(self.url)) as session:
            owned, foreign = owned_tables(session, project_id), foreign_tables(session, project_id)
        return owned | (self.dbt_tables() - foreign)

    def claim_tables(self, project_id: str, tables: Mapping[str, Loc]) -> frozenset[str]:
        """Check (claiming any that no project owns yet) that the project owns the tables a step is about to
        write, and mark them written (kept from now on); returns every table the project owns. Raises TenancyError
        naming the field of a foreign table."""
        with Session(get_engine(self.url)) as session, session.begin():
            claim_tables(session, project_id, tables)
            mark_written(session, project_id, tables)
            return owned_tables(session, project_id)

    def owned_tables(self, project_id: str) -> frozenset[str]:
        with Session(get_engine(self.url)) as session:
            return owned_tables(session, project_id)
