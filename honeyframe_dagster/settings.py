"""The one place that reads the environment (see ../shared/contract/settings.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import cache, cached_property
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXAMPLES_DIR = REPO_ROOT / "examples"


# The variables a document may name (url_env, api_key_env, base_url_env, a step's secrets): HONEYFRAME_SECRET_*
# and the documented ones below (../shared/contract/documents.yaml), never the store's URL or SMTP credentials.
SECRET_PATTERN = r"^HONEYFRAME_SECRET_[A-Z0-9_]+$"
DOCUMENTED_ENV = ("HONEYFRAME_AGENT_BASE_URL", "HONEYFRAME_AGENT_API_KEY", "HONEYFRAME_PLATFORM_URL")
# check_env_name's rule as one regular expression (for the JSON schema).
ENV_NAME_PATTERN = rf"^(HONEYFRAME_SECRET_[A-Z0-9_]+|{'|'.join(DOCUMENTED_ENV)})$"


def check_env_name(value: str) -> str:
    """A variable a document may name: never the store's URL, SMTP credentials or anything else of the host."""
    if not (re.fullmatch(SECRET_PATTERN, value) or value in DOCUMENTED_ENV):
        raise ValueError(f"may name only HONEYFRAME_SECRET_* variables or {', '.join(DOCUMENTED_ENV)}, got {value!r}")
    return value


def check_secret_name(value: str) -> str:
    if not re.fullmatch(SECRET_PATTERN, value):
        raise ValueError(f"must name a HONEYFRAME_SECRET_* variable, got {value!r}")
    return value


def check_timezone(name: str) -> str:
    """An IANA name: HONEYFRAME_DEFAULT_TIMEZONE and every trigger's and project's `timezone` obey this rule."""
    if name not in known_timezones():
        raise ValueError(f"unknown timezone {name!r} (expected an IANA name such as 'Europe/Berlin')")
    ZoneInfo(name)
    return name


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


class HomeUnusable(OSError):
    """HONEYFRAME_HOME cannot hold the state (a file in the way, a read-only mount, no permission)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"HONEYFRAME_HOME={path}: cannot use it as a writable folder ({reason})")
        self.path = path


class Settings(BaseSettings):
    """Every setting has an embedded default so that `make run` needs none of them."""

    model_config = SettingsConfigDict(env_prefix="HONEYFRAME_", extra="ignore")

    home: Path = Path(".honeyframe")
    database_url: str | None = None
    warehouse: Path | None = None
    python_recipes_dir: Path = REPO_ROOT / "examples" / "python_recipes"
    python_recipe_timeout_seconds: float = Field(default=600.0, gt=0, le=86_400)
    # Relative `file` connector paths are resolved against this folder (default: the repository root).
    data_dir: Path = REPO_ROOT
    connector_timeout_seconds: float = 60.0
    # Hosts that http/platform connectors, agents and webhooks may reach (comma-separated, `*.example.com`
    # globs); None: any public host, never local, private or metadata addresses (net_policy.py).
    connector_allowed_hosts: str | None = None
    # User SQL (cards, run_agent input) and a `sql` connector's query are stopped after this long.
    sql_timeout_seconds: float = Field(default=120.0, gt=0, le=86_400)
    # How long a warehouse writer waits for the warehouse's cross-process lock before failing.
    warehouse_lock_timeout_seconds: float = 600.0
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_user: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_security: str | None = None
    smtp_from: str = "scheduler@localhost"
    smtp_timeout_seconds: float = 30.0
    # First delay of send_email_report's exponential retry policy; read when the code location loads.
    smtp_retry_delay_seconds: float = 2.0
    # First delay of the default retries of sync_dataset and run_agent (a step's own `retry` wins); unset: 10 s.
    retry_delay_seconds: float | None = Field(default=None, gt=0, le=3600)
    agent_base_url: str | None = None
    agent_api_key: str | None = Field(default=None, repr=False)
    agent_failure_ratio: float = 0.2
    agent_concurrency: int = 4
    agent_batch_size: int = 16
    agent_timeout_seconds: float = 60.0
    # A run_agent input with more rows than this fails before the first call to the model.
    agent_max_rows: int = Field(default=10_000, ge=1)
    # The most runs one instant of an `expand_from` trigger may launch (one per row); more fails the tick.
    max_expansion: int = Field(default=100, ge=1, le=10_000)
    # DuckDB's memory limit for user SQL (card SQL, run_agent input; interrupted after sql_timeout_seconds).
    sql_memory_limit: str = "1GB"
    # The largest YAML file `honeyframe apply` reads (checked before parsing).
    max_document_bytes: int = Field(default=5_000_000, ge=1)
    platform_url: str | None = None
    # `i/n`: this code location serves the projects whose crc32(id) % n == i.
    shard: str | None = None
    # How many code locations (shards) split the projects: an operator's explicit count for `honeyframe up`;
    # None: chosen from the store's size (pairs_per_location), then kept in the store (honeyframe_dagster.shards).
    code_locations: int | None = Field(default=None, ge=1, le=64)
    # The size a code location is kept near: an edit reloads only its project's location, in time ~ its size.
    pairs_per_location: int = Field(default=1000, ge=1)
    # The code servers of the shards, in shard order (`host:port,host:port`), for `honeyframe up --only ui`.
    code_servers: str | None = None
    ui_port: int = 3000
    api_port: int = 8000
    # uvicorn worker processes `honeyframe up` runs for the REST API; None: one per CPU core.
    api_workers: int | None = Field(default=None, ge=1, le=64)
    code_server_port: int = 4266
    heartbeat_seconds: float = 30.0
    # Dagster's own storage on Postgres (postgresql://...; picks dagster.postgres.yaml); None = SQLite.
    dagster_postgres_url: str | None = Field(default=None, repr=False)
    health_window_seconds: float = 90.0
    # How often the API's reconciler compares the store with Dagster's trigger statuses (honeyframe_dagster/
    # reconciler.py): repairs what a failed reload or call left, adopts starts and stops made in Dagster's UI. 0: never.
    reconcile_seconds: float = Field(default=30.0, ge=0, le=60)
    # The webserver whose GraphQL the API uses to reload the location and set trigger status; "" = no Dagster;
    # unset: the webserver `honeyframe up` starts on HONEYFRAME_UI_PORT.
    dagster_url: str | None = None
    # The org's default timezone for cron triggers (after the trigger's and the project's own).
    default_timezone: str = "UTC"
    # Quotas and rate limits. The scenarios (own and template instances) one project may hold.
    max_scenarios_per_project: int = Field(default=2000, ge=1)
    # API requests per token per minute, and failed admin logins per client address per minute, counted in each
    # API process (api/limits.py): beyond them, 429 with Retry-After.
    rate_limit_per_minute: int = Field(default=1200, ge=1)
    admin_logins_per_minute: int = Field(default=10, ge=1)
    # The URL browsers reach the API at (behind a proxy: the proxy's); https makes the admin cookies `Secure`.
    # None: the API's own http://127.0.0.1:HONEYFRAME_API_PORT.
    public_url: str | None = None

    # DAGSTER_HOME when the operator set it; else `honeyframe up` installs one under HONEYFRAME_HOME.
    dagster_home: Path | None = Field(default=None, validation_alias="DAGSTER_HOME")

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("sql_memory_limit")
    @classmethod
    def _memory_limit(cls, value: str) -> str:
        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*[KMGT]i?B\s*", value, flags=re.IGNORECASE):
            raise ValueError(f"expected a size such as 512MB, 1GB or 2GiB, got {value!r}")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value.strip(), flags=re.IGNORECASE):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value.strip().rstrip("/")

    @property
    def public_base_url(self) -> str:
        """Where browsers reach the API: HONEYFRAME_PUBLIC_URL, else the API's own address."""
        return self.public_url or f"http://127.0.0.1:{self.api_port}"

    @property
    def public_https(self) -> bool:
        """The public URL is https: cookies the API sets are `Secure` even when TLS ends at a proxy before it."""
        return self.public_base_url.lower().startswith("https://")

    @property
    def dagster_home_dir(self) -> Path:
        """The Dagster instance folder: DAGSTER_HOME, else the one `honeyframe up` installs under HONEYFRAME_HOME."""
        return (self.dagster_home or self.home_dir / "dagster").expanduser().resolve()

    @property
    def smtp_configured(self) -> bool:
        """HONEYFRAME_SMTP_HOST names the org's mail connector; unset, `honeyframe up` starts a local mail sink."""
        return "smtp_host" in self.model_fields_set

    def secret(self, name: str) -> str | None:
        """The value of a variable a document names (`url_env`, `api_key_env`, `base_url_env`, a step's `secrets`),
        None when unset or empty. The documented names are these settings; the rest are HONEYFRAME_SECRET_*
        variables, read from the environment at the call. None when unset; "" when set empty (callers decide)."""
        check_env_name(name)
        documented = {
            "HONEYFRAME_AGENT_BASE_URL": self.agent_base_url,
            "HONEYFRAME_AGENT_API_KEY": self.agent_api_key,
            "HONEYFRAME_PLATFORM_URL": self.platform_url,
        }
        return documented[name] if name in documented else os.environ.get(name)

    def secret_values(self) -> frozenset[str]:
        """The values a step must never show (redacted from its logs, failures and metadata: steps/redaction.py):
        every HONEYFRAME_SECRET_* variable that is set, the agent API key and the SMTP password; for a value that
        is a URL with a password, that password too."""
        values = {value for key, value in os.environ.items() if re.fullmatch(SECRET_PATTERN, key)}
        values |= {value for value in (self.agent_api_key, self.smtp_password) if value}
        passwords = {_url_password(value) for value in values if "://" in value}
        return frozenset(value for value in values | passwords if value)

    @property
    def dagster_webserver_url(self) -> str:
        """Where the Dagster webserver answers; "" when the API and CLI run without Dagster."""
        if self.dagster_url is not None:
            return self.dagster_url.rstrip("/")
        return f"http://127.0.0.1:{self.ui_port}"

    @cached_property
    def home_dir(self) -> Path:
        """The state folder, created if missing; `HomeUnusable` names the path when it cannot be written."""
        path = self.home.expanduser().resolve()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HomeUnusable(path, exc.strerror or str(exc)) from None
        # os.access sees read-only mounts (EROFS) even for root, and missing write permission for others.
        if not os.access(path, os.W_OK | os.X_OK):
            raise HomeUnusable(path, "not writable")
        return path

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'scheduler.db'}"

    @property
    def warehouse_path(self) -> Path:
        return (self.warehouse or self.home_dir / "warehouse.duckdb").expanduser().resolve()

    @property
    def shard_slice(self) -> tuple[int, int] | None:
        if not self.shard:
            return None
        index, _, count = self.shard.partition("/")
        shard = (int(index), int(count))
        if not 0 <= shard[0] < shard[1]:
            raise ValueError(f"HONEYFRAME_SHARD={self.shard!r}: expected 'i/n' with 0 <= i < n")
        return shard

    @property
    def code_server_addresses(self) -> list[tuple[str, int]]:
        """HONEYFRAME_CODE_SERVERS as (host, port), in shard order; a ValueError names the entry that is wrong."""
        addresses = []
        for entry in (self.code_servers or "").split(","):
            host, _, port = entry.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"HONEYFRAME_CODE_SERVERS: {entry.strip()!r} is not 'host:port'")
            addresses.append((host, int(port)))
        return addresses


def _url_password(value: str) -> str | None:
    try:
        return urlsplit(value).password
    except ValueError:
        return None


@cache
def get_settings() -> Settings:
    """The process's settings, read once; `get_settings.cache_clear()` re-reads them (tests that change the
    environment, a CLI that sets a variable before starting children)."""
    return Settings()


def child_environment(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process (dbt, the stack's servers, a backfill): this process's plus `overrides`."""
    return {**os.environ, **(overrides or {})}


def export_to_children(name: str, value: str) -> None:
    """Set a variable for the child processes this one starts without an explicit environment (dagster-dbt's
    dbt); this process's settings are unchanged (they were read once)."""
    os.environ[name] = value


def inherited_environment(names: tuple[str, ...], prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    """The variables of this process among `names` or starting with one of `prefixes` (what a sandboxed child keeps)."""
    return {key: value for key, value in os.environ.items() if key in names or key.startswith(prefixes)}
