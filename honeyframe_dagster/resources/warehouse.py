"""The DuckDB warehouse that dbt, dataset syncs, agents and dashboards share."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource

from honeyframe_dagster.settings import get_settings


class WarehouseResource(ConfigurableResource):
    """Path from HONEYFRAME_WAREHOUSE (default under HONEYFRAME_HOME)."""

    @property
    def path(self) -> Path:
        return get_settings().warehouse_path

    def export_for_dbt(self) -> None:
        # dbt_project/profiles.yml reads the warehouse path from this variable in the dbt subprocess.
        os.environ["HONEYFRAME_WAREHOUSE"] = str(self.path)
