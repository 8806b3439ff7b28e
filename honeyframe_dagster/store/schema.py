"""Schema migrations (Alembic) of the scenario store.

Only `upgrade` (and `alembic_config`) import Alembic (~10 MB with Mako): a code location checks that the store is
at the newest revision (boot.check_ready) with `current_revision`, which reads Alembic's version table with plain
SQL, and `head_revision`, which reads the migration files' revision identifiers as Alembic does.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Alembic's version table: its default name (migrations/env.py names no other).
VERSION_TABLE = "alembic_version"


def alembic_config() -> Config:
    from alembic.config import Config  # imported here: only a migration needs Alembic (see the top)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already."""
    if is_current(engine):
        return
    from alembic import command  # imported here: only a migration needs Alembic (see the top)

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def head_revision() -> str | None:
    """The newest migration's revision, the one no other migration revises (None: no migration), as Alembic's
    ScriptDirectory finds it (tests/test_store_schema.py compares the two): from the `revision` and
    `down_revision` of each migration file in migrations/versions."""
    revises: dict[str, tuple[str, ...]] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        if not path.name.startswith(("__init__", ".#")):  # the files Alembic skips
            revision, down_revision = _revision_identifiers(path)
            revises[revision] = down_revision
    heads = sorted(set(revises) - {down for downs in revises.values() for down in downs})
    if len(heads) > 1:
        raise RuntimeError(f"the store's migrations have more than one head: {', '.join(heads)}")
    return heads[0] if heads else None


def _revision_identifiers(path: Path) -> tuple[str, tuple[str, ...]]:
    """A migration file's `revision` and the revisions its `down_revision` names (a merge names several)."""
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            values[target.id] = ast.literal_eval(value)
    revision, down = values.get("revision"), values.get("down_revision")
    if not isinstance(revision, str):
        raise ValueError(f"migration {path.name}: no `revision` identifier")
    if isinstance(down, tuple | list):
        return revision, tuple(str(name) for name in down)
    return revision, () if down is None else (str(down),)


def current_revision(engine: Engine) -> str | None:
    """The store's revision (None: never migrated); reads only, Alembic's version table as Alembic reads it."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        revisions: list[str] = list(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    if len(revisions) > 1:
        raise RuntimeError(f"version table '{VERSION_TABLE}' has more than one head present: {', '.join(revisions)}")
    return revisions[0] if revisions else None


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
