"""`honeyframe up`, Ctrl-C and `honeyframe up` again at once, twice: the ports that the last run's connections leave
in TIME_WAIT are free to bind, stopping says so in a last line, the logs are plain text; and the CLI in a new
terminal (no port settings, only the home) finds the system that runs on other ports."""

from __future__ import annotations

import signal
import subprocess
from functools import partial
from pathlib import Path

import httpx

from honeyframe_dagster.settings import REPO_ROOT
from tests.api.conftest import BIN, wait_for
from tests.ops.test_first_run import fresh_env, run

ROUNDS = 3


def summary_or_exit(terminal: Path, up: subprocess.Popen[bytes]) -> bool:
    return "Ctrl-C stops everything" in terminal.read_text() or up.poll() is not None


def test_up_ctrl_c_and_up_again_twice_and_the_cli_finds_the_system(tmp_path: Path) -> None:
    env = fresh_env(tmp_path)
    home = Path(env["HONEYFRAME_HOME"])
    ui, api = f"http://127.0.0.1:{env['HONEYFRAME_UI_PORT']}", f"http://127.0.0.1:{env['HONEYFRAME_API_PORT']}"
    # A new terminal: the same home (the working directory's .honeyframe, here named), no port or URL settings.
    bare = {k: v for k, v in env.items() if not k.startswith("HONEYFRAME_")} | {"HONEYFRAME_HOME": str(home)}
    for round_ in range(ROUNDS):
        terminal = tmp_path / f"terminal-{round_}.txt"
        with terminal.open("w") as out:
            up = subprocess.Popen(
                [str(BIN / "honeyframe"), "up"], env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        # Connections the servers close themselves on Ctrl-C: their ports sit in TIME_WAIT when `up` runs again.
        client = httpx.Client(timeout=30)
        try:
            wait_for(partial(summary_or_exit, terminal, up), "the summary")
            assert up.poll() is None, terminal.read_text()
            assert client.get(f"{ui}/server_info").status_code == 200
            assert client.get(f"{api}/api/pipeline/scheduler/health").status_code < 500
            if round_ == 0:
                assert (home / "running.json").exists()
                applied = run(bare, "apply", "examples/")
                assert applied.returncode == 0, applied.stderr
                assert "reloaded the Dagster code location" in applied.stdout, applied.stdout
                assert "does not answer" not in applied.stdout
        finally:
            up.send_signal(signal.SIGINT)
            up.wait(timeout=90)
            client.close()
        printed = terminal.read_text()
        assert up.returncode == 0, printed
        assert printed.strip().splitlines()[-1].startswith("[honeyframe] everything has stopped"), printed
        assert "in use" not in printed
        assert not (home / "running.json").exists()
    for log in (home / "logs").glob("*.log"):
        assert "\x1b[" not in log.read_text(errors="replace"), f"{log.name} holds terminal colour codes"
    # Nothing runs now: the message says which settings tell the CLI where the system is.
    stopped = run(bare, "apply", "examples/")
    assert stopped.returncode == 0, stopped.stderr
    assert "does not answer" in stopped.stdout and "HONEYFRAME_DAGSTER_URL" in stopped.stdout, stopped.stdout
