"""Engines for the scenario store: SQLite by default, Postgres in production."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from sqlalchemy import Engine, create_engine, event


@cache
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, json_deserializer=_lenient_json)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets the API write while code servers and run workers read.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _lenient_json(text: str) -> Any:
    """SQLite does not check the JSON it stores: a corrupt value comes back as its raw text, which the model then
    refuses for that one row (the scenario shows its error) instead of failing every read of the table."""
    try:
        return json.loads(text)
    except ValueError:
        return text
