"""When a scenario runs: a cron, an interval, a one-shot instant, or the success of another scenario."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from honeyframe_dagster.model.base import CompactModel
from honeyframe_dagster.model.hygiene import MAX_SQL_LENGTH, Name
from honeyframe_dagster.model.identifiers import Identifier, Slug
from honeyframe_dagster.settings import check_timezone, known_timezones

MIN_INTERVAL_SECONDS = 60
# 366 days: a longer interval is a mistake, and a much longer one overflows the next-instant arithmetic.
MAX_INTERVAL_SECONDS = 366 * 24 * 3600
# What runs for instants missed while the scheduler was down (docs/scheduling.md).
Catchup = Literal["none", "latest", "all"]
# What happens when an instant comes while a run of the same scenario is still queued or in progress.
Overlap = Literal["skip", "queue", "allow", "cancel_previous"]
TIME_KINDS = ("cron", "interval_seconds", "run_at")
# Under catchup none, how late an instant may be evaluated and still fire (trigger.misfire_grace_seconds).
DEFAULT_MISFIRE_GRACE_SECONDS = 300
MAX_MISFIRE_GRACE_SECONDS = 86_400
_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"


def _cron_field(value: str) -> str:
    """A cron field: a comma list of `*`, `v` or `v-v`, each with an optional `/step`."""
    item = rf"(\*|({value})(-({value}))?)(/[1-9][0-9]?)?"
    return rf"({item}(,{item})*)"


# The 5-field syntax as a JSON-schema pattern (names in either case; `L` day of month, `d#n` weekday), so clients
# and fuzzers build crons that parse; check_cron (Dagster's own parser) still decides.
CRON_PATTERN = (
    "^"
    + " ".join(
        _cron_field(value)
        for value in (
            r"[0-5]?[0-9]",
            r"[01]?[0-9]|2[0-3]",
            r"0?[1-9]|[12][0-9]|3[01]|L",
            rf"0?[1-9]|1[0-2]|{_MONTHS}|{_MONTHS.lower()}",
            rf"[0-7](#[1-5])?|{_DAYS}|{_DAYS.lower()}",
        )
    )
    + "$"
)


# The five cron fields, each with its range, for messages that say which field is wrong and why.
CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_CRON_NUMBER = re.compile(r"\d+")


def timezone_enum(schema: dict[str, Any]) -> None:
    """The JSON schema lists the timezones this server knows (computed only when a schema is generated)."""
    schema["enum"] = sorted(known_timezones())


def check_cron(expression: str) -> str:
    # Dagster accepts what croniter accepts; we also insist on exactly five fields (no seconds, no '@daily').
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"invalid cron expression {expression!r}: expected 5 fields (minute hour day-of-month month "
            f"day-of-week), got {len(fields)}"
        )
    if not _valid_cron(expression):
        raise ValueError(f"invalid cron expression {expression!r}: {_explain_cron(fields)}")
    return expression


@lru_cache(maxsize=4096)
def _valid_cron(expression: str) -> bool:
    """Dagster's verdict. A plain cron is one its parser accepts, told without importing Dagster (every stored cron
    is checked again when read, by `honeyframe list` too); anything else is asked of the parser itself. croniter's
    check expands every field (~0.1 ms); a project's scenarios share few crons, read at every list."""
    if _plain(expression.split()):
        return True
    from dagster._utils.schedules import is_valid_cron_string

    return is_valid_cron_string(expression)


# `*`, `a` or `a-b` (either way round), `*/n` or `a-b/n`: what `_plain` reads without Dagster.
_PLAIN_ITEM = re.compile(r"(\*|([0-9]+)(-([0-9]+))?)(/([0-9]+))?")


def _plain(fields: list[str]) -> bool:
    """Five fields of numbers in range, `*`, ranges, lists and steps of at least 1, with no day of month 30 or 31
    (Dagster refuses February 30 and 31). tests/test_model.py checks that Dagster accepts every such cron."""
    if len(fields) != len(CRON_FIELDS):
        return False
    for value, (name, low, high) in zip(fields, CRON_FIELDS, strict=True):
        for item in value.split(","):
            match = _PLAIN_ITEM.fullmatch(item)
            if match is None:
                return False
            first, last, step = match.group(2), match.group(4), match.group(6)
            if step is not None and (int(step) == 0 or (first is not None and last is None)):
                return False
            numbers = [int(n) for n in (first, last) if n is not None]
            if any(not low <= n <= high for n in numbers) or (name == "day of month" and {30, 31} & set(numbers)):
                return False
    return True


def _explain_cron(fields: list[str]) -> str:
    """The first field whose numbers are out of range or whose step is 0, in words."""
    for value, (name, low, high) in zip(fields, CRON_FIELDS, strict=True):
        for part in value.split(","):
            base, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                return f"{name} step {step!r} must be a whole number of at least 1"
            for number in _CRON_NUMBER.findall(base):
                if not low <= int(number) <= high:
                    return f"{name} {number} is out of range {low}–{high}"
    return "a field is not understood (use numbers, '*', ranges 'a-b', lists 'a,b' and steps '*/n')"


class UpstreamRef(BaseModel):
    """Fire when another scenario of the same project succeeds."""

    model_config = ConfigDict(extra="forbid")
    scenario: Name = Field(description="Name of the upstream scenario in the same project.")


class ExpandFrom(BaseModel):
    """One run per row of a read-only query at each instant (docs/scheduling.md, "Fan-out per entity")."""

    model_config = ConfigDict(extra="forbid")
    sql: str = Field(
        min_length=1,
        max_length=MAX_SQL_LENGTH,
        description="One read-only SELECT over tables the project may read (the policy of card SQL).",
    )
    key: Identifier | None = Field(
        default=None,
        description="The column naming each run (tag honeyframe/entity); default: the first column.",
    )


_KINDS = ("cron", "interval_seconds", "run_at", "upstream")


def _only(kind: str) -> dict[str, Any]:
    """The JSON schema of "this kind, and no other" (start_at goes with interval_seconds only): an alternative that
    only required its own field let a body with two kinds through `oneOf` whenever the others were refused."""
    others = [other for other in _KINDS if other != kind] + ([] if kind == "interval_seconds" else ["start_at"])
    return {"required": [kind], "not": {"anyOf": [{"required": [other]} for other in others]}}


class Trigger(CompactModel):
    """Exactly one of `cron`, `interval_seconds`, `run_at` or `upstream`, plus the time and overlap policies."""

    schema_one_of = tuple(_only(kind) for kind in _KINDS)
    cron: str | None = Field(
        default=None,
        max_length=100,
        description="5-field cron expression.",
        examples=["0 2 * * *"],
        json_schema_extra={"pattern": CRON_PATTERN},
    )
    interval_seconds: int | None = Field(
        default=None,
        description=f"Run every N seconds ({MIN_INTERVAL_SECONDS} <= N <= {MAX_INTERVAL_SECONDS}, i.e. 366 days).",
        json_schema_extra={"minimum": MIN_INTERVAL_SECONDS, "maximum": MAX_INTERVAL_SECONDS},
    )
    start_at: dt.datetime | None = Field(
        default=None,
        description="With interval_seconds: instants are start_at + k × interval_seconds (default the Unix epoch).",
    )
    run_at: dt.datetime | None = Field(
        default=None, description="One-shot: run once at this instant (ISO 8601 with an offset)."
    )
    upstream: UpstreamRef | None = Field(default=None, description="Run on success of this scenario.")
    timezone: str | None = Field(
        default=None,
        max_length=64,
        json_schema_extra=timezone_enum,
        description="IANA timezone of the cron; default the project's timezone, else the org default (UTC).",
    )
    catchup: Catchup = Field(
        default="latest",
        description="Instants missed while the scheduler was down: none, the latest once, or all (oldest first). "
        "Ignored by upstream triggers, which have no instants.",
    )
    overlap: Overlap = Field(
        default="skip", description="When a run of this scenario is still queued or in progress at an instant."
    )
    misfire_grace_seconds: int = Field(
        default=DEFAULT_MISFIRE_GRACE_SECONDS,
        ge=0,
        le=MAX_MISFIRE_GRACE_SECONDS,
        description="Under catchup none: an instant first evaluated at most this late still fires, a later one is "
        f"dropped (0–{MAX_MISFIRE_GRACE_SECONDS}).",
    )
    calendar: Slug | None = Field(
        default=None,
        description="A Calendar of the project or the org: an instant on a date it excludes (in the trigger's "
        "timezone) does not fire and is not caught up. Time triggers only.",
    )
    expand_from: ExpandFrom | None = Field(
        default=None,
        description="One run per row of this query at each instant (at most HONEYFRAME_MAX_EXPANSION), each "
        "tagged honeyframe/entity and with {{ entity.COLUMN }} rendered in its steps.",
    )

    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler):
        # As CompactModel (a nested expand_from without its key too), and the misfire grace only where it means
        # something (catchup none) or is not the default.
        data = {key: value for key, value in handler(self).items() if value is not None}
        if isinstance(data.get("expand_from"), dict):
            data["expand_from"] = {k: v for k, v in data["expand_from"].items() if v is not None}
        if self.catchup != "none" and self.misfire_grace_seconds == DEFAULT_MISFIRE_GRACE_SECONDS:
            data.pop("misfire_grace_seconds", None)
        return data

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @field_validator("interval_seconds")
    @classmethod
    def _interval(cls, value: int | None) -> int | None:
        if value is not None and value < MIN_INTERVAL_SECONDS:
            raise ValueError(f"interval_seconds must be >= {MIN_INTERVAL_SECONDS}, got {value}")
        if value is not None and value > MAX_INTERVAL_SECONDS:
            raise ValueError(f"interval_seconds must be <= {MAX_INTERVAL_SECONDS} (366 days), got {value}")
        return value

    @field_validator("start_at", "run_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"needs a UTC offset (e.g. '2026-12-24T18:00:00+01:00'), got {value.isoformat()!r}")
        return value

    @field_validator("start_at")
    @classmethod
    def _start_at_of_an_interval(cls, value: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        # A field check, so the error names `trigger.start_at`. An interval_seconds that failed its own check is
        # absent from `info.data`: that error is reported, not this one.
        if value is not None and "interval_seconds" in info.data and info.data["interval_seconds"] is None:
            raise ValueError("start_at applies to interval_seconds triggers only")
        return value

    @field_validator("calendar")
    @classmethod
    def _calendar(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("upstream") is not None:
            raise ValueError("a calendar applies to time triggers (cron, interval_seconds, run_at), not upstream")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [name for name in (*TIME_KINDS, "upstream") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "a trigger needs exactly one of cron, interval_seconds, run_at, upstream; "
                f"got {', '.join(given) or 'none'}"
            )
        return self

    @property
    def kind(self) -> Literal["cron", "interval", "run_at", "upstream"]:
        if self.cron is not None:
            return "cron"
        if self.interval_seconds is not None:
            return "interval"
        return "run_at" if self.run_at is not None else "upstream"

    def describe(self, timezone: str) -> str:
        words = self._describe(timezone)
        return f"{words}, calendar '{self.calendar}'" if self.calendar is not None else words

    def _describe(self, timezone: str) -> str:
        if self.cron is not None:
            return f"cron '{self.cron}' {timezone}"
        if self.interval_seconds is not None:
            return f"every {self.interval_seconds}s"
        if self.run_at is not None:
            return f"once at {self.run_at.astimezone(dt.UTC).isoformat()}"
        assert self.upstream is not None
        return f"on success of '{self.upstream.scenario}'"


def cadence(trigger: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored trigger without what does not move its instants (its expand_from), for comparing cadences."""
    return None if trigger is None else {k: v for k, v in trigger.items() if k != "expand_from"}


__all__ = [
    "Catchup",
    "ExpandFrom",
    "Overlap",
    "Trigger",
    "cadence",
    "UpstreamRef",
    "check_cron",
    "check_timezone",
    "timezone_enum",
]
