"""What the Dagster daemon pays for the scenarios' triggers when nothing is due (the idle cost).

For N template x project pairs (crons `t 2 * * *` Europe/Berlin, 6 in 7 enabled; the store seeded as
benchmarks/load_definitions.py seeds it) in a temporary home, the real code location
`honeyframe_dagster.definitions:defs` is served by a code server process (Dagster's managed gRPC server, as the
daemon talks to it) and the daemon's own iterations run against a fresh SQLite instance:

  scheduler   one `launch_scheduled_runs` pass over every schedule (as Dagster's scheduler daemon loop does)
  sensors     one `execute_sensor_iteration` pass over every sensor (each evaluated: 31 s since the last pass)

after one warm-up pass (the daemon's first sight creates the instigator states). The clock is Dagster's, frozen
in this process at passes 31 s apart from now; run it when nothing is due for 2 hours (not 23:00-02:30 UTC). It
prints the wall time of each pass, of a scheduler pass 71 min later (when Dagster writes each running schedule's
hourly checkpoint), and how many ticks and runs it caused (none, when nothing is due).

    .venv/bin/python benchmarks/idle_daemon.py [--pairs 200 2000] [--passes 3]

`--checkout DIR` measures another checkout's code (e.g. main before a change), with that checkout's interpreter:
`DIR/.venv/bin/python benchmarks/idle_daemon.py --checkout DIR`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(pairs: int, templates: int, passes: int, checkout: Path) -> None:
    from dagster import instance_for_test
    from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster._daemon.sensor import execute_sensor_iteration
    from dagster._scheduler.scheduler import launch_scheduled_runs
    from dagster._time import get_current_datetime

    from benchmarks.load_definitions import seed_store

    log = logging.getLogger("idle_daemon")
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{home}/store.db"
        os.environ.update({"HONEYFRAME_HOME": home, "HONEYFRAME_DATABASE_URL": url})
        os.environ.pop("HONEYFRAME_SHARD", None)
        seed_store(url, pairs, templates)
        target = ModuleTarget(
            module_name="honeyframe_dagster.definitions",
            attribute="defs",
            working_directory=str(checkout),
            location_name="honeyframe",
        )
        Path(home, "dagster").mkdir()
        with instance_for_test(temp_dir=f"{home}/dagster") as instance:
            started = time.perf_counter()
            with create_test_daemon_workspace_context(target, instance) as workspace:
                location = workspace.create_request_context().get_code_location("honeyframe")
                repository = next(iter(location.get_repositories().values()))
                schedules, sensors = repository.get_schedules(), repository.get_sensors()
                running = sum(1 for s in sensors if s.default_status.value == "RUNNING")
                print(
                    f"{pairs} pairs: {len(schedules)} schedules, {len(sensors)} sensors ({running} running); "
                    f"code location loaded in {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
                iteration_times: dict = {}
                now = get_current_datetime()
                figures: dict[str, list[float]] = {"scheduler": [], "sensors": []}
                for index in range(passes + 1):
                    with freeze_time(now):
                        t0 = time.perf_counter()
                        scheduling = launch_scheduled_runs(
                            workspace, log, end_datetime_utc=now, iteration_times=iteration_times
                        )
                        list(scheduling)
                        t1 = time.perf_counter()
                        list(execute_sensor_iteration(workspace, log, None, None))
                        t2 = time.perf_counter()
                    label = "warm-up" if index == 0 else f"pass {index}"
                    print(f"  {label}: scheduler {t1 - t0:.3f} s, sensors {t2 - t1:.3f} s", flush=True)
                    if index:
                        figures["scheduler"].append(t1 - t0)
                        figures["sensors"].append(t2 - t1)
                    now += dt.timedelta(seconds=31)
                # Dagster's scheduler writes each running schedule's "last iteration" checkpoint once an hour (plus
                # up to 10 min of jitter): one pass past that shows the hourly write.
                now += dt.timedelta(hours=1, minutes=11)
                with freeze_time(now):
                    t0 = time.perf_counter()
                    scheduling = launch_scheduled_runs(
                        workspace, log, end_datetime_utc=now, iteration_times=iteration_times
                    )
                    list(scheduling)
                    checkpoint = time.perf_counter() - t0
                print(f"  pass 71 min later (hourly checkpoints): scheduler {checkpoint:.3f} s", flush=True)
                ticks = sum(
                    len(instance.get_ticks(t.get_remote_origin_id(), t.selector_id)) for t in [*schedules, *sensors]
                )
                runs = len(instance.get_run_ids())
        scheduler, sensing = statistics.median(figures["scheduler"]), statistics.median(figures["sensors"])
        print(
            f"{pairs} pairs idle, median of {passes}: scheduler pass {scheduler:.3f} s + sensor pass {sensing:.3f} s "
            f"= {scheduler + sensing:.3f} s ({(scheduler + sensing) / max(pairs, 1) * 1000:.2f} ms per pair); "
            f"ticks recorded {ticks}, runs {runs}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--templates", type=int, default=20)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--checkout", type=Path, default=REPO, help="the checkout whose code to measure")
    args = parser.parse_args()
    sys.path.insert(0, str(args.checkout.resolve()))
    for pairs in args.pairs:
        measure(pairs, args.templates, args.passes, args.checkout.resolve())


if __name__ == "__main__":
    main()
