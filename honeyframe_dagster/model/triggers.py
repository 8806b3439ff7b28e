"""When a scenario runs: a cron, an interval, or the success of another scenario."""

from __future__ import annotations

import datetime as dt
from typing import Self
from zoneinfo import ZoneInfo, available_timezones

from dagster._utils.schedules import get_next_cron_tick, is_valid_cron_string
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MIN_INTERVAL_SECONDS = 60


def check_timezone(name: str) -> str:
    if name not in _known_timezones():
        raise ValueError(f"unknown timezone {name!r} (expected an IANA name such as 'Europe/Berlin')")
    ZoneInfo(name)
    return name


def _known_timezones() -> set[str]:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = available_timezones() | {"UTC"}
    return _TIMEZONES


_TIMEZONES: set[str] | None = None


def check_cron(expression: str) -> str:
    # Dagster accepts what croniter accepts; we also insist on exactly five fields (no seconds, no '@daily').
    if len(expression.split()) != 5 or not is_valid_cron_string(expression):
        raise ValueError(f"invalid cron expression {expression!r} (expected 5 fields: 'min hour dom month dow')")
    return expression


class UpstreamRef(BaseModel):
    """Fire when another scenario of the same project succeeds."""

    model_config = ConfigDict(extra="forbid")
    scenario: str = Field(min_length=1, description="Name of the upstream scenario in the same project.")


class Trigger(BaseModel):
    """Exactly one of `cron`, `interval_seconds` or `upstream`, plus an optional IANA `timezone`."""

    model_config = ConfigDict(extra="forbid")
    cron: str | None = Field(default=None, description="5-field cron expression.", examples=["0 2 * * *"])
    interval_seconds: int | None = Field(default=None, description="Run every N seconds (N >= 60).")
    upstream: UpstreamRef | None = Field(default=None, description="Run on success of this scenario.")
    timezone: str | None = Field(
        default=None, description="IANA timezone of the cron; default the project's timezone, else UTC."
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @field_validator("interval_seconds")
    @classmethod
    def _interval(cls, value: int | None) -> int | None:
        if value is not None and value < MIN_INTERVAL_SECONDS:
            raise ValueError(f"interval_seconds must be >= {MIN_INTERVAL_SECONDS}, got {value}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [name for name in ("cron", "interval_seconds", "upstream") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a trigger needs exactly one of cron, interval_seconds, upstream; got {', '.join(given) or 'none'}"
            )
        return self

    @property
    def kind(self) -> str:
        if self.cron is not None:
            return "cron"
        return "interval" if self.interval_seconds is not None else "upstream"

    def describe(self, timezone: str) -> str:
        if self.cron is not None:
            return f"cron '{self.cron}' {timezone}"
        if self.interval_seconds is not None:
            return f"every {self.interval_seconds}s"
        assert self.upstream is not None
        return f"on success of '{self.upstream.scenario}'"


def next_cron_instant(cron: str, timezone: str, after: dt.datetime) -> dt.datetime:
    """The next instant Dagster's scheduler will fire, DST rules included, in UTC."""
    return get_next_cron_tick(cron, after, timezone).astimezone(dt.UTC)


__all__ = ["Trigger", "UpstreamRef", "check_cron", "check_timezone", "next_cron_instant"]
