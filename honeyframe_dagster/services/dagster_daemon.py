"""`dagster-daemon run` as `honeyframe up` starts it: Dagster's daemon, with its periodic workspace refresh once an
hour instead of every minute.

Dagster's daemon reloads every code location of its workspace every `RELOAD_WORKSPACE_INTERVAL` (60 s, a constant of
`dagster._daemon.controller`): each job's snapshot is fetched again (one ExternalJob call per job) and deserialized
and hashed again, whether or not anything changed. With 2,000 scenarios that was 27 % of a core with nothing due, and
it grows with the scenarios. Nothing of ours needs it: our locations are `grpc_server` entries, which the daemon
also watches (Dagster's server watcher asks each for its server id every second and reloads a location as soon as
the id changes, which every reload does: services/code_server.py), and a location
that could not be reached is retried every 10 s by the same watcher. So the periodic refresh is only a safety net,
kept once an hour.

Run as a script (`python dagster_daemon.py run -w WORKSPACE`), with dagster-daemon's own arguments: importing the
package would load the product's code into the daemon, which does not need it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# What Dagster's periodic refresh of the whole workspace becomes (seconds).
WORKSPACE_REFRESH_SECONDS = 3600


def main() -> int:
    # Run as a script, this file's folder leads sys.path: its modules are not the daemon's to import.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [entry for entry in sys.path if entry and str(Path(entry).resolve()) != here]
    from dagster._daemon import controller
    from dagster._daemon.cli import main as daemon_main

    if not isinstance(getattr(controller, "RELOAD_WORKSPACE_INTERVAL", None), int):
        # A Dagster upgrade renamed it: the daemon still works, refreshing as often as Dagster does.
        print("[dagster-daemon] RELOAD_WORKSPACE_INTERVAL not found: Dagster's own refresh applies", file=sys.stderr)
    else:
        controller.RELOAD_WORKSPACE_INTERVAL = WORKSPACE_REFRESH_SECONDS
    sys.argv[0] = "dagster-daemon"
    daemon_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
