"""How many code locations (shards) split the projects: chosen once, kept in the store, read by every process.

A project's shard is `crc32(project_id) % count` (model/naming.py): adding projects never moves the others, but
changing the count moves most of them to another location (their jobs, triggers and stored trigger states). So
the count is chosen once and kept in the store, which every host shares, and changes only by these rules
(docs/deploy.md):
- the first start of the stack sets it: HONEYFRAME_CODE_LOCATIONS, else ceil(pairs / HONEYFRAME_PAIRS_PER_LOCATION);
- an operator sets it: `honeyframe shards set N`, or HONEYFRAME_CODE_LOCATIONS on a full `honeyframe up`;
- a full single-machine `honeyframe up` grows it when the shards average more than GROWTH_FACTOR times the target
  size (every process restarts together there, so none keeps the old count). It never shrinks by itself.
A code server whose `HONEYFRAME_SHARD=i/n` disagrees with the stored count refuses to load (`ShardCountMismatch`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from honeyframe_dagster.model.naming import shard_of
from honeyframe_dagster.store.tables import DeploymentSettingRow, ScenarioRow

COUNT_KEY = "code_locations"
MAX_LOCATIONS = 64
GROWTH_FACTOR = 2


class ShardCountMismatch(ValueError):
    """A code server was started for a different number of shards than the store's: it would serve the wrong
    projects (some twice, some never)."""

    def __init__(self, shard: tuple[int, int], stored: int) -> None:
        super().__init__(
            f"HONEYFRAME_SHARD={shard[0]}/{shard[1]}: the store splits the projects over {stored} code location(s); "
            f"start shards 0/{stored} to {stored - 1}/{stored}, or change the count with `honeyframe shards set N` "
            "(docs/deploy.md)"
        )


def stored_count(session: Session) -> int | None:
    row = session.get(DeploymentSettingRow, COUNT_KEY)
    return None if row is None else int(row.value)


def save_count(session: Session, count: int) -> None:
    if not 1 <= count <= MAX_LOCATIONS:
        raise ValueError(f"code locations: {count} is not between 1 and {MAX_LOCATIONS}")
    row = session.get(DeploymentSettingRow, COUNT_KEY)
    if row is None:
        session.add(DeploymentSettingRow(name=COUNT_KEY, value=str(count)))
    else:
        row.value = str(count)


def location_count(engine: Engine, fallback: int = 1) -> int:
    """The count the code servers run with; `fallback` before any was chosen (no stack started yet)."""
    with Session(engine) as session:
        return stored_count(session) or fallback


def check_shard(session: Session, shard: tuple[int, int] | None) -> None:
    stored = stored_count(session)
    if shard is not None and stored is not None and stored != shard[1]:
        raise ShardCountMismatch(shard, stored)


def pair_count(session: Session) -> int:
    """Scenarios: project scenarios and enable-matrix cells (template × project pairs), one job each."""
    return int(session.scalar(select(func.count()).select_from(ScenarioRow)) or 0)


def target_count(pairs: int, per_location: int) -> int:
    return max(1, min(MAX_LOCATIONS, math.ceil(pairs / per_location)))


def shard_sizes(session: Session, count: int) -> list[int]:
    """Pairs per shard, in shard order."""
    sizes = [0] * count
    statement = select(ScenarioRow.project_id, func.count()).group_by(ScenarioRow.project_id)
    for project_id, pairs in session.execute(statement):
        sizes[shard_of(project_id, count)] += int(pairs)
    return sizes


@dataclass(frozen=True)
class Choice:
    count: int
    previous: int | None
    pairs: int

    def describe(self) -> str:
        if self.previous is None:
            return f"{self.count} code location(s) for {self.pairs} scenario(s), chosen now and kept in the store"
        if self.previous != self.count:
            return (
                f"{self.count} code location(s) for {self.pairs} scenario(s), was {self.previous}: "
                "projects moved between locations (docs/deploy.md)"
            )
        return f"{self.count} code location(s) for {self.pairs} scenario(s)"


def choose_count(engine: Engine, explicit: int | None, per_location: int, may_grow: bool) -> Choice:
    """The count a start of the stack runs with, stored for every other process (the rules above)."""
    with Session(engine) as session, session.begin():
        previous = stored_count(session)
        pairs = pair_count(session)
        if explicit is not None:
            count = explicit
        elif previous is None:
            count = target_count(pairs, per_location)
        elif may_grow and pairs > GROWTH_FACTOR * per_location * previous:
            count = max(previous, target_count(pairs, per_location))
        else:
            count = previous
        if count != previous:
            save_count(session, count)
    return Choice(count, previous, pairs)
