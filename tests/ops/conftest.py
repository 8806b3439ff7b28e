"""Fixtures for the operations tests: a store holding the legacy schedule tables of an old install."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from honeyframe_dagster.store.engine import get_engine

LEGACY_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "legacy"
REPO_ROOT = Path(__file__).resolve().parents[2]


def run_sql_script(engine: Engine, script: str) -> None:
    """Run a portable SQL script statement by statement (no ';' or '--' inside its literals), in one transaction."""
    body = "\n".join(re.sub(r"--.*$", "", line) for line in script.splitlines())
    statements = [s.strip() for s in body.split(";") if s.strip()]
    with engine.begin() as connection:
        for statement in statements:
            if statement.upper() not in {"BEGIN", "COMMIT"}:
                connection.exec_driver_sql(statement)


LoadLegacy = Callable[..., Engine]


@pytest.fixture
def load_legacy(store_url: str, apply_yaml: Callable[[str], int]) -> LoadLegacy:
    """Apply the legacy projects, then create the legacy tables with their example rows (plus `extra` SQL)."""

    def load(extra: str = "", projects: bool = True) -> Engine:
        if projects:
            assert apply_yaml((LEGACY_DIR / "legacy_projects.yaml").read_text()) == 0
        engine = get_engine(store_url)
        run_sql_script(engine, (LEGACY_DIR / "legacy_schema.sql").read_text())
        run_sql_script(engine, (LEGACY_DIR / "legacy_rows.sql").read_text() + extra)
        return engine

    return load
