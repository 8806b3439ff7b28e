"""Wait `seconds` (default 0), then finish: a stand-in for a long job, used by the parallel-group example."""

import time

from dagster_pipes import open_dagster_pipes


def main() -> None:
    with open_dagster_pipes() as context:
        seconds = float((context.extras.get("args") or {}).get("seconds", 0))
        time.sleep(seconds)
        context.report_custom_message({"metadata": {"paused seconds": seconds}})


if __name__ == "__main__":
    main()
