"""The scenario store as a Dagster resource: ops look their step's config up at run time."""

from __future__ import annotations

from functools import cached_property

from dagster import ConfigurableResource
from sqlalchemy.orm import Session

from honeyframe_dagster.dbt import load_manifest, recipe_names
from honeyframe_dagster.model.scenario import Catalog, ScenarioSpec, resolve
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.catalog import load_catalog
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ScenarioRow


class ScenarioNotFound(LookupError):
    pass


class ScenarioStoreResource(ConfigurableResource):
    """Reads the store named by HONEYFRAME_DATABASE_URL; no URL in run config, so no secret in the UI."""

    @cached_property
    def url(self) -> str:
        return get_settings().store_url

    def catalog_for(self, scenario_id: int) -> tuple[Catalog, ScenarioSpec]:
        with Session(get_engine(self.url)) as session:
            row = session.get(ScenarioRow, scenario_id)
            if row is None:
                raise ScenarioNotFound(f"scenario {scenario_id} is no longer in the store")
            catalog = load_catalog(session, [row.project_id])
        record = next(r for r in catalog.scenarios if r.id == scenario_id)
        return catalog, resolve(record, catalog, recipe_names(load_manifest()))
