"""Score each product's stock against the demand expected within `horizon_days` (default 14).

Args (step `args`): horizon_days (int), daily_demand (float, units per product per day, default 2.0).
Reads the product list shipped with the dbt project; reports how many products need reordering.
"""

import csv
from pathlib import Path

from dagster_pipes import open_dagster_pipes

PRODUCTS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "raw_products.csv"


def main() -> None:
    with open_dagster_pipes() as context:
        args = context.extras.get("args") or {}
        horizon = int(args.get("horizon_days", 14))
        demand = float(args.get("daily_demand", 2.0))
        if horizon <= 0:
            raise ValueError(f"horizon_days must be positive, got {horizon}")
        with PRODUCTS.open() as handle:
            products = list(csv.DictReader(handle))
        at_risk = [p for p in products if int(p["on_hand"]) - demand * horizon <= int(p["reorder_point"])]
        context.log.info(f"scored {len(products)} products over {horizon} days; {len(at_risk)} need reordering")
        context.report_custom_message(
            {
                "metadata": {
                    "products scored": len(products),
                    "products to reorder": len(at_risk),
                    "horizon_days": horizon,
                }
            }
        )


if __name__ == "__main__":
    main()
