"""Which Dagster instance config (dagster.yaml) the run command installs into DAGSTER_HOME."""

from __future__ import annotations

import shutil
from pathlib import Path

from honeyframe_dagster.settings import REPO_ROOT, Settings

SQLITE_INSTANCE_YAML = REPO_ROOT / "dagster.yaml"
POSTGRES_INSTANCE_YAML = REPO_ROOT / "dagster.postgres.yaml"


def instance_yaml(settings: Settings) -> Path:
    """Postgres storage when HONEYFRAME_DAGSTER_POSTGRES_URL is set, else the SQLite default."""
    return POSTGRES_INSTANCE_YAML if settings.dagster_postgres_url else SQLITE_INSTANCE_YAML


def install_instance_yaml(settings: Settings, dagster_home: Path) -> Path:
    """Copy the chosen file to DAGSTER_HOME/dagster.yaml (before `dagster instance migrate`); returns it."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    shutil.copyfile(instance_yaml(settings), target)
    return target


def dagster_postgres_url(url: str) -> str:
    """The URL with psycopg2, the driver dagster-postgres is written for: SQLAlchemy 2.1 reads a bare
    `postgresql://` as psycopg 3, on which dagster-postgres' `NOTIFY run_events, %(id)s` fails and no run event is
    stored. An explicit driver (`postgresql+psycopg2://`) is kept."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql+psycopg2://{rest}" if sep and scheme in ("postgresql", "postgres") else url
