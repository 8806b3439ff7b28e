"""The example sample data follows today: the dbt seed `raw_orders` ends on a fixed day, so a report of "last week" or
"month to date" run today would find nothing. On the first `honeyframe up` (the one that applies `examples/`) a
marker under HONEYFRAME_HOME turns on a shift: every dbt build then moves the sample orders by whole days so that
the newest is yesterday (`stg_orders` adds the dbt variable `sample_shift_days`). Without the marker (tests, a
production home) the seed's dates are used as written.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from functools import cache

from honeyframe_dagster.settings import DBT_PROJECT_DIR, Settings

MARKER = "sample_data_follows_today"
SHIFT_VAR = "sample_shift_days"
ORDERS_SEED = DBT_PROJECT_DIR / "seeds" / "raw_orders.csv"


def follow_today(settings: Settings) -> None:
    """Make this home's dbt builds shift the sample data to end yesterday (from now on, every day)."""
    (settings.home_dir / MARKER).write_text("The dbt sample data is shifted to end yesterday (sample_data.py).\n")


def follows_today(settings: Settings) -> bool:
    return (settings.home_dir / MARKER).exists()


@cache
def seed_last_day() -> dt.date:
    """The newest order date of the sample seed."""
    with ORDERS_SEED.open() as handle:
        return max(dt.date.fromisoformat(row["order_date"]) for row in csv.DictReader(handle))


def shift_days(settings: Settings, today: dt.date) -> int:
    """How many days dbt moves the sample orders: 0 unless this home follows today."""
    if not follows_today(settings):
        return 0
    return (today - dt.timedelta(days=1) - seed_last_day()).days


def dbt_vars_args(settings: Settings, today: dt.date) -> list[str]:
    """`--vars` for a dbt build ([] when there is no shift: dbt's partial parse keeps its state)."""
    days = shift_days(settings, today)
    return ["--vars", json.dumps({SHIFT_VAR: days})] if days else []
