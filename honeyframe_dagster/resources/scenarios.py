"""The scenario store as a Dagster resource: ops look their step's config up at run time."""

from __future__ import annotations

from collections.abc import Mapping

from dagster import ConfigurableResource, EnvVar
from sqlalchemy.orm import Session

from honeyframe_dagster.dbt import load_manifest, recipe_names
from honeyframe_dagster.model.errors import Loc
from honeyframe_dagster.model.scenario import Catalog, ScenarioSpec, resolve
from honeyframe_dagster.model.tenancy import table_key
from honeyframe_dagster.settings import Settings
from honeyframe_dagster.store.catalog import load_catalog
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.ownership import claim_tables, foreign_tables, mark_written, owned_tables
from honeyframe_dagster.store.tables import ScenarioRow


class ScenarioNotFound(LookupError):
    pass


class ScenarioStoreResource(ConfigurableResource):
    """Reads the scenario store at `url` (a SQLAlchemy URL)."""

    url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ScenarioStoreResource:
        """HONEYFRAME_DATABASE_URL as an EnvVar, so the UI shows the variable's name and never its password;
        unset: the SQLite file under HONEYFRAME_HOME, which holds no secret."""
        if settings.database_url:
            return cls(url=EnvVar("HONEYFRAME_DATABASE_URL"))
        return cls(url=settings.store_url)

    def catalog_for(self, scenario_id: int) -> tuple[Catalog, ScenarioSpec]:
        with Session(get_engine(self.url)) as session:
            row = session.get(ScenarioRow, scenario_id)
            if row is None:
                raise ScenarioNotFound(f"scenario {scenario_id} is no longer in the store")
            catalog = load_catalog(session, [row.project_id])
        record = next(r for r in catalog.scenarios if r.id == scenario_id)
        return catalog, resolve(record, catalog, recipe_names(load_manifest()))

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
