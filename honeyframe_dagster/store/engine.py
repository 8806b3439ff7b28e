"""Engines for the scenario store: SQLite by default, Postgres in production; and telling an outage apart.

Stored documents (JSON columns) are read with orjson: the API reads a thousand of them for one list."""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from sqlalchemy import Engine, create_engine, event, exc, make_url

# SQLite result codes that mean "the store cannot be reached now" rather than "this statement is wrong".
_SQLITE_OUTAGES = ("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_READONLY", "SQLITE_FULL")
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10
# Connections a process keeps open, and how many more it may open at a time (SQLAlchemy's default is 5 + 10: at 8
# API threads and 4 closers, connections beyond the 5 kept were opened and closed at every request, a fork of a
# Postgres backend each). Still at most 15 per process.
POOL = {"pool_size": 10, "max_overflow": 5}


@cache
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    parsed = make_url(url)
    # libpq waits forever for an unreachable host by default; a bounded wait lets requests answer 503.
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS}
    # pre_ping replaces connections that died with the server, so the store recovers without a restart.
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, json_deserializer=orjson.loads, **POOL)


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    memory = not database or database == ":memory:" or "mode=memory" in url
    pool = {} if memory else POOL  # an in-memory database has one connection per thread (SingletonThreadPool)
    engine = create_engine(url, connect_args={"timeout": 30}, json_deserializer=_lenient_json, **pool)
    if database and database != ":memory:" and not database.startswith("file:"):
        _open_existing_only(engine, Path(database))

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the API write while code servers and run workers read.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def _open_existing_only(engine: Engine, path: Path) -> None:
    """Create the store file once, with the engine; later connections open it read-write but never create it.

    A store file that went away (unmounted volume, moved) then fails to open (503) instead of being silently
    replaced by an empty database.
    """
    try:
        if not path.exists():  # touching an existing store would change its mtime: readers never write
            path.touch(exist_ok=True)
    except OSError:
        return  # the folder is missing or not writable: connecting fails and says so
    uri = f"file:{quote(str(path.resolve()))}?mode=rw"

    @event.listens_for(engine, "do_connect")
    def _read_write_uri(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        cargs[:1] = [uri]
        cparams["uri"] = True


def store_unavailable(error: BaseException) -> bool:
    """True when the store cannot be reached (server down, file gone, pool exhausted), as opposed to a bug."""
    if isinstance(error, exc.TimeoutError):
        return True  # no pooled connection came free in time
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if isinstance(error.orig, sqlite3.Error):
        return str(getattr(error.orig, "sqlite_errorname", "")).startswith(_SQLITE_OUTAGES)
    # psycopg raises OperationalError for connection failures, shutdowns and resource limits.
    return isinstance(error, exc.OperationalError | exc.InterfaceError)


def describe_outage(error: BaseException) -> str:
    """One line on what failed: the driver's message, without SQLAlchemy's statement and parameters."""
    cause = error.orig if isinstance(error, exc.DBAPIError) else error
    text = " ".join(str(cause).split()) or type(cause).__name__
    return f"{type(cause).__name__}: {text}"


def _lenient_json(text: str | bytes) -> Any:
    """SQLite does not check the JSON it stores: a corrupt value comes back as its raw text, which the model then
    refuses for that one row (the scenario shows its error) instead of failing every read of the table."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
