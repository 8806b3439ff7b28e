"""Where a `sql` connector may connect, decided before it connects (docs/security.md, "Connectors and secrets").

- Postgres (`postgresql://…`, any driver name): the URL's host under the egress policy like the http connector's
  (net_policy.py): every address it resolves to is checked, and the driver then connects to a checked address
  (`hostaddr`), so the name cannot be rebound in between. No Unix socket (a URL without a host), and no query
  parameter that could send the driver elsewhere or read the host's files (`host`, `hostaddr`, `port`, `service`,
  `passfile`, `sslkey`, …): only `_PG_PARAMETERS`.
- SQLite (`sqlite:///…`): a database file below HONEYFRAME_DATA_DIR (relative to it), never inside the
  scheduler's own state, like the file connector's files; or an in-memory database.
- Never the scheduler's own store (HONEYFRAME_DATABASE_URL, its SQLite file) nor Dagster's storage
  (HONEYFRAME_DAGSTER_POSTGRES_URL, DAGSTER_HOME's files), whatever HONEYFRAME_CONNECTOR_ALLOWED_HOSTS says: a
  Postgres target is that store when its port and database are the store's and its resolved addresses are the
  store's (or both are this machine).

Errors name the variable that holds the URL, never the URL, its host or its password.
"""

from __future__ import annotations

import getpass
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from honeyframe_dagster import net_policy
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.sync_dataset.connectors.extract import ConnectorError

POSTGRES_PORT = 5432
# libpq parameters a URL may set: none of them picks another server or reads a file of this host.
_PG_PARAMETERS = frozenset({"sslmode", "connect_timeout", "application_name", "gssencmode", "channel_binding"})


@dataclass(frozen=True)
class PostgresTarget:
    host: str
    address: str  # a checked address of `host`: the driver connects here
    port: int
    database: str
    user: str | None
    password: str | None = field(repr=False)
    parameters: dict[str, str]


@dataclass(frozen=True)
class SqliteTarget:
    path: Path | None  # None: an in-memory database


SqlTarget = PostgresTarget | SqliteTarget


def _refused(url_env: str, why: str) -> ConnectorError:
    return ConnectorError(f"connector.url_env: the database in {url_env} {why}; refused", retryable=False)


def sql_target(url_env: str, raw: str, data_dir: Path, private: Sequence[Path]) -> SqlTarget:
    """Where the URL `raw` (the value of `url_env`) may be read; ConnectorError saying why not."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise ConnectorError(
            f"connector.url_env: {url_env} does not hold a valid SQLAlchemy URL", retryable=False
        ) from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        return _postgres(url_env, url)
    if backend == "sqlite":
        return _sqlite(url_env, url, data_dir, private)
    raise _refused(url_env, f"is a {backend!r} URL: the sql connector reads postgresql and sqlite databases")


def _postgres(url_env: str, url: URL) -> PostgresTarget:
    unknown = sorted(set(url.query) - _PG_PARAMETERS)
    if unknown:
        raise _refused(url_env, f"sets the connection parameter(s) {', '.join(unknown)}, which only the URL may say")
    parameters = {key: str(value) for key, value in url.query.items() if isinstance(value, str)}
    if len(parameters) != len(url.query):
        raise _refused(url_env, "repeats a connection parameter")
    if not url.host:
        raise _refused(url_env, "has no host (a local socket is this machine's own)")
    port = url.port or POSTGRES_PORT
    try:
        addresses = net_policy.checked_addresses(url.host, port)
    except net_policy.EgressRefused as exc:
        raise _refused(url_env, f"is on a host that {exc.reason}") from None
    except OSError:
        raise ConnectorError(f"connector.url_env: the host in {url_env} does not resolve") from None
    database = url.database or url.username or getpass.getuser()
    if any(_same_server(addresses, port, database, own) for own in _own_postgres()):
        raise _refused(url_env, "is the scheduler's own store or Dagster's storage")
    return PostgresTarget(url.host, addresses[0], port, database, url.username, url.password, parameters)


def _own_postgres() -> list[URL]:
    """The scheduler's own Postgres databases: its store, Dagster's storage."""
    settings = get_settings()
    own = []
    for raw in (settings.store_url, settings.dagster_postgres_url):
        try:
            url = make_url(raw) if raw else None
        except (ArgumentError, ValueError):
            continue
        if url is not None and url.get_backend_name() == "postgresql":
            own.append(url)
    return own


def _same_server(addresses: Sequence[str], port: int, database: str, own: URL) -> bool:
    """`addresses:port/database` is the database `own` names (this machine under any of its names)."""
    own_port = own.port or POSTGRES_PORT
    if own_port != port or (own.database or own.username or getpass.getuser()) != database:
        return False
    target = {ipaddress.ip_address(a) for a in addresses}
    if own.host:
        try:
            infos = socket.getaddrinfo(own.host, own_port, type=socket.SOCK_STREAM)
        except OSError:
            infos = []
        theirs = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    else:
        theirs = {ipaddress.ip_address("127.0.0.1")}  # a Unix socket: this machine
    if target & theirs:
        return True
    return any(_this_machine(a) for a in target) and any(_this_machine(a) for a in theirs)


def _this_machine(address: net_policy.Address) -> bool:
    return net_policy.is_local(address) or str(address) in _machine_addresses()


@cache
def _machine_addresses() -> frozenset[str]:
    """The addresses this machine's own name resolves to (a store URL may name the machine by its address)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return frozenset()
    return frozenset(str(info[4][0]).split("%")[0] for info in infos)


def _sqlite(url_env: str, url: URL, data_dir: Path, private: Sequence[Path]) -> SqliteTarget:
    if url.query:
        raise _refused(url_env, "sets connection parameters, which a sqlite URL may not")
    database = url.database or ""
    if database in ("", ":memory:"):
        return SqliteTarget(None)
    if database.startswith("file:"):
        raise _refused(url_env, "is a 'file:' URI; name the database file by its path")
    root = data_dir.expanduser().resolve()
    path = (root / database).resolve()  # an absolute path stays as it is
    if not path.is_relative_to(root):
        raise _refused(url_env, "is a file outside HONEYFRAME_DATA_DIR")
    settings = get_settings()
    own = [*private, settings.home_dir, settings.warehouse_path, settings.dagster_home_dir]
    store = make_url(settings.store_url)
    if store.get_backend_name() == "sqlite" and store.database and store.database != ":memory:":
        own.append(Path(store.database))
    if any(path.is_relative_to(Path(p).expanduser().resolve()) for p in own):
        raise _refused(url_env, "is the scheduler's own state (its store, the warehouse or Dagster's storage)")
    if not path.is_file():
        raise _refused(url_env, "is not a file in HONEYFRAME_DATA_DIR")
    return SqliteTarget(path)
