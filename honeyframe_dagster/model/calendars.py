"""Calendars: the local dates on which a time trigger that names one (`trigger.calendar`) may fire.

A calendar is org-wide (no `project`) or a project's own; a trigger's `calendar: ID` is the project's calendar of
that id if it has one, else the org's (`find_calendar`). A date is excluded when it is listed in `exclude`, is a
public holiday of `holidays` (the `holidays` library: country, optional subdivision) or, under `business_days`,
falls on a Saturday or Sunday; a date listed in `include` is always allowed. An instant is judged by its local date
in the trigger's timezone (model/instants.py skips excluded instants: they never fire and are never caught up).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from honeyframe_dagster.model.identifiers import ProjectId, Slug

MAX_CALENDAR_DATES = 1000


@lru_cache(maxsize=1)
def _supported() -> dict[str, list[str]]:
    # imported here (and in holiday_names): the `holidays` library (~4 MB) only for a calendar that names holidays
    import holidays as holiday_library

    return {code: list(subdivisions) for code, subdivisions in holiday_library.list_supported_countries().items()}


class Holidays(BaseModel):
    """Public holidays of a country (ISO 3166-1 alpha-2, e.g. DE) and optionally one of its subdivisions (BE)."""

    model_config = ConfigDict(extra="forbid")
    country: str = Field(min_length=2, max_length=3, description="ISO 3166 country code, e.g. DE, US, FR.")
    subdivision: str | None = Field(default=None, max_length=64, description="A state or region, e.g. BE, CA.")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value not in _supported():
            raise ValueError(f"unknown country {value!r} (the `holidays` library knows ISO codes such as DE, US, FR)")
        return value

    @field_validator("subdivision")
    @classmethod
    def _subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A field check, so the error names `holidays.subdivision`; an unknown country is reported, not this.
        country = info.data.get("country")
        if value is None or country is None:
            return value
        known = _supported().get(country, [])
        if value not in known:
            raise ValueError(f"unknown subdivision {value!r} of {country} (known: {', '.join(known[:40]) or 'none'})")
        return value


class Calendar(BaseModel):
    """A `kind: Calendar` document (../shared/contract/documents.yaml)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["Calendar"] = "Calendar"
    id: Slug = Field(description="Lowercase letters, digits and '-'.")
    project: ProjectId | None = Field(
        default=None,
        description="The project whose calendar it is; absent: org-wide (admins only).",
    )
    business_days: bool = Field(default=False, description="Monday to Friday only.")
    holidays: Holidays | None = Field(default=None, description="Public holidays from the `holidays` library.")
    exclude: list[dt.date] = Field(default_factory=list, max_length=MAX_CALENDAR_DATES, description="Never fired.")
    include: list[dt.date] = Field(
        default_factory=list, max_length=MAX_CALENDAR_DATES, description="Always allowed (wins over the rest)."
    )

    def excludes(self, day: dt.date) -> str | None:
        """Why the calendar excludes `day` (None: it is allowed)."""
        if day in self.include:
            return None
        if day in self.exclude:
            return "listed in its exclude dates"
        if self.holidays is not None:
            name = holiday_names(self.holidays.country, self.holidays.subdivision, day.year).get(day)
            if name is not None:
                return f"public holiday {name} ({self.holidays.country}"
        if self.business_days and day.weekday() >= 5:
            return f"not a business day ({day.strftime('%A')})"
        return None

    def allows(self, instant: dt.datetime, timezone: str) -> bool:
        return self.excludes(local_date(instant, timezone)) is None

    def skip_reason(self, instant: dt.datetime, timezone: str) -> str | None:
        """A tick's reason for not firing `instant`, naming the calendar and, for a holiday, its name."""
        day = local_date(instant, timezone)
        why = self.excludes(day)
        if why is None:
            return None
        if why.startswith("public holiday"):
            subdivision = f"-{self.holidays.subdivision}" if self.holidays and self.holidays.subdivision else ""
            why = f"{why}{subdivision})"
        return f"calendar '{self.id}' excludes {day.isoformat()}: {why}"

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


@lru_cache(maxsize=256)
def holiday_names(country: str, subdivision: str | None, year: int) -> Mapping[dt.date, str]:
    import holidays as holiday_library  # imported here: see _supported

    return dict(holiday_library.country_holidays(country, subdiv=subdivision, years=year).items())


def local_date(instant: dt.datetime, timezone: str) -> dt.date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def find_calendar(
    calendars: Mapping[tuple[str | None, str], Calendar], project_id: str, calendar_id: str
) -> Calendar | None:
    """A trigger's calendar: the project's own of that id, else the org-wide one."""
    return calendars.get((project_id, calendar_id)) or calendars.get((None, calendar_id))


__all__ = ["Calendar", "Holidays", "find_calendar", "holiday_names", "local_date"]
