"""The store's revisions as store/schema.py reads them without Alembic, compared with what Alembic reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from honeyframe_dagster.store import schema
from honeyframe_dagster.store.engine import get_engine


def alembic_head() -> str | None:
    return ScriptDirectory.from_config(schema.alembic_config()).get_current_head()


def test_the_head_revision_is_alembics() -> None:
    # A new migration that the files' reading missed would leave every code location refusing a migrated store.
    assert schema.head_revision() == alembic_head() is not None


def test_the_head_is_the_revision_no_other_revises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    monkeypatch.setattr(schema, "MIGRATIONS_DIR", tmp_path)

    def migration(revision: str, down_revision: str | tuple[str, ...] | None) -> None:
        assignments = f"revision: str = {revision!r}\ndown_revision = {down_revision!r}\n"
        (versions / f"{revision}_migration.py").write_text(f'"""{revision}"""\n{assignments}')

    assert schema.head_revision() is None
    migration("a1", None)
    migration("b1", "a1")
    migration("c1", "a1")
    with pytest.raises(RuntimeError, match="more than one head: b1, c1"):
        schema.head_revision()
    migration("d1", ("b1", "c1"))
    assert schema.head_revision() == alembic_head() == "d1"


def test_the_current_revision_is_the_one_alembic_reads(store_url: str) -> None:
    engine = get_engine(store_url)

    def alembic_current() -> str | None:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    assert schema.current_revision(engine) is None and alembic_current() is None
    schema.upgrade(engine)
    assert schema.current_revision(engine) == alembic_current() == schema.head_revision()
    assert schema.is_current(engine)
    with engine.begin() as connection:
        connection.execute(text("update alembic_version set version_num = '0003'"))
    assert schema.current_revision(engine) == alembic_current() == "0003"
    assert not schema.is_current(engine)
