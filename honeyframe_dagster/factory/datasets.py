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


def connector_keys(datasets: Iterable[Dataset]) -> dict[tuple[str, str], AssetKey]:
    """`connector/<project>__<id>` with `-` as `_`. Distinct datasets can share that name (`x-y` and `x_y`, or
    project `a--b`'s `c` and project `a`'s `b--c`); the later one in (project, id) order gets `_2`, `_3`, …, since
    a duplicate key would make the warehouse code location, every project's lineage with it, fail to load."""
    keys: dict[tuple[str, str], AssetKey] = {}
    taken: set[str] = set()
    for dataset in sorted(datasets, key=lambda d: (d.project, d.id)):
        base = name = re.sub(r"\W", "_", f"{dataset.project}__{dataset.id}")
        attempt = 2
        while name in taken:
            name, attempt = f"{base}_{attempt}", attempt + 1
        taken.add(name)
        keys[(dataset.project, dataset.id)] = AssetKey(["connector", name])
    return keys


def dataset_asset_specs(datasets: Iterable[Dataset], defined: Collection[AssetKey]) -> list[AssetSpec]:
    datasets = sorted(datasets, key=lambda d: (d.project, d.id))
    keys = connector_keys(datasets)
    by_table: dict[str, list[Dataset]] = defaultdict(list)
    for dataset in datasets:
        by_table[dataset.table_name].append(dataset)
    specs: list[AssetSpec] = []
    for table, loaders in sorted(by_table.items()):
        for dataset in loaders:
            specs.append(
                AssetSpec(
                    key=keys[(dataset.project, dataset.id)],
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
                deps=[keys[(d.project, d.id)] for d in loaders],
                group_name=GROUP,
                description=f"Warehouse table loaded by sync_dataset of {names}",
                kinds={"duckdb"},
            )
        )
    return specs
