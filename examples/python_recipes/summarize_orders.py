"""Summarize the orders shipped with the dbt project: count and revenue per status.

Args (step `args`): status (optional: only this status).
"""

import csv
from collections import defaultdict
from pathlib import Path

from dagster_pipes import open_dagster_pipes

ORDERS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "raw_orders.csv"


def main() -> None:
    with open_dagster_pipes() as context:
        wanted = (context.extras.get("args") or {}).get("status")
        revenue: dict[str, float] = defaultdict(float)
        with ORDERS.open() as handle:
            for order in csv.DictReader(handle):
                if wanted is None or order["status"] == wanted:
                    revenue[order["status"]] += float(order["amount"])
        for status, amount in sorted(revenue.items()):
            context.log.info(f"{status}: {amount:.2f}")
        context.report_custom_message(
            {"metadata": {"statuses": len(revenue), "revenue": round(sum(revenue.values()), 2)}}
        )


if __name__ == "__main__":
    main()
