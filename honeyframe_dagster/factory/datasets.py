"""Datasets as assets, so lineage in the UI reads connector → dataset table → dbt recipes.

A dataset's table is the asset key dbt sources map to (honeyframe_dagster.dbt.asset_key_path), so dbt models built from
it hang below it. Each connector is an external asset upstream of the table. A table that dbt itself defines
(e.g. a seed) keeps its dbt asset; several datasets loading one table share its asset.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable

from dagster import AssetKey, AssetSpec

from honeyframe_dagster.model.documents import Dataset

GROUP = "datasets"


def connector_key(dataset: Dataset) -> AssetKey:
    return AssetKey(["connector", re.sub(r"\W", "_", f"{dataset.project}__{dataset.id}")])


def dataset_asset_specs(datasets: Iterable[Dataset], defined: Collection[AssetKey]) -> list[AssetSpec]:
    by_table: dict[str, list[Dataset]] = defaultdict(list)
    for dataset in sorted(datasets, key=lambda d: (d.project, d.id)):
        by_table[dataset.table_name].append(dataset)
    specs: list[AssetSpec] = []
    for table, loaders in sorted(by_table.items()):
        for dataset in loaders:
            specs.append(
                AssetSpec(
                    key=connector_key(dataset),
                    group_name=GROUP,
                    description=f"{dataset.connector.type} connector of dataset '{dataset.id}' ({dataset.project})",
                    metadata={"connector": dataset.connector.type, "project": dataset.project},
                )
            )
        if AssetKey([table]) in defined:
            continue
        names = ", ".join(f"{d.project}/{d.id}" for d in loaders)
        specs.append(
            AssetSpec(
                key=AssetKey([table]),
                deps=[connector_key(d) for d in loaders],
                group_name=GROUP,
                description=f"Warehouse table loaded by sync_dataset of {names}",
                kinds={"duckdb"},
            )
        )
    return specs
