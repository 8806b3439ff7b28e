"""The instants that missed their scenario's `sla` (table `sla_misses`): written by the location's SLA sensor
(factory/sla.py), read by the API and the admin pages (`sla_missed`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.store.tables import SlaMissRow

# How many missed instants a scenario shows (newest first) and how many open ones a check looks at again.
SHOWN = 20


def record_miss(session: Session, scenario_id: int, instant: dt.datetime, state: str) -> bool:
    """Record a late instant; False when it was recorded before (its one alert went out then)."""
    if session.get(SlaMissRow, (scenario_id, instant)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SlaMissRow(scenario_id=scenario_id, instant=instant, state=state[:64], alerted_at=utcnow()))
    except IntegrityError:  # another location's sensor (a shard being moved) recorded it meanwhile
        return False
    return True


def open_misses(session: Session, scenario_id: int) -> list[SlaMissRow]:
    """The scenario's late instants not yet reported recovered, newest first."""
    statement = (
        select(SlaMissRow)
        .where(SlaMissRow.scenario_id == scenario_id, SlaMissRow.recovered_at.is_(None))
        .order_by(SlaMissRow.instant.desc())
        .limit(SHOWN)
    )
    return list(session.scalars(statement))


def missed_instants(session: Session, scenario_ids: Iterable[int]) -> dict[int, list[dt.datetime]]:
    """Each scenario's missed instants, newest first (at most SHOWN)."""
    ids = list(scenario_ids)
    found: dict[int, list[dt.datetime]] = {}
    if not ids:
        return found
    statement = select(SlaMissRow.scenario_id, SlaMissRow.instant).where(SlaMissRow.scenario_id.in_(ids))
    for scenario_id, instant in session.execute(statement.order_by(SlaMissRow.instant.desc())):
        shown = found.setdefault(scenario_id, [])
        if len(shown) < SHOWN:
            shown.append(instant)
    return found


__all__ = ["SHOWN", "missed_instants", "open_misses", "record_miss"]
