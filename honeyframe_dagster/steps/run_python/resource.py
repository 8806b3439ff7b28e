"""Standalone Python recipes (`NAME.py` in HONEYFRAME_PYTHON_RECIPES_DIR), run in a subprocess via Dagster Pipes.

A recipe is a script that opens `dagster_pipes.open_dagster_pipes()`; `context.extras["args"]` holds the
step's `args`, `context.log` reaches the run's event log, and `context.report_custom_message({"metadata":
{...}})` becomes the op's output metadata. An uncaught exception is reported with its traceback and fails
the op; a recipe still running at its timeout is killed.

The child gets a minimal environment (`child_env`): never the store's URL, SMTP or agent credentials, only the
HONEYFRAME_SECRET_* variables its step lists in `secrets`. Whatever it prints or reports through Pipes reaches the
run's log with every secret value redacted (steps/redaction.py), before it is cut to its tail.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import (
    ConfigurableResource,
    Failure,
    MetadataValue,
    OpExecutionContext,
    PipesTempFileContextInjector,
    open_pipes_session,
)

from honeyframe_dagster.settings import Settings, get_settings, inherited_environment
from honeyframe_dagster.steps.redaction import RedactingMessageReader, step_redactor

RECIPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TAIL_CHARS = 4000
# What a recipe's process inherits from ours; everything else (the store URL, SMTP, agent keys) stays out.
_INHERITED = ("PATH", "HOME", "LANG", "TZ")


class RecipeNotFound(LookupError):
    pass


def child_env(secrets: Sequence[str], pipes_env: Mapping[str, str]) -> dict[str, str]:
    """PATH, HOME, LANG, LC_*, TZ, Dagster Pipes' variables and the listed secrets; raises Failure if one is unset."""
    settings = get_settings()
    values = {name: settings.secret(name) for name in secrets}
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise Failure(f"secrets: environment variable(s) {', '.join(missing)} not set")
    present = {name: value for name, value in values.items() if value is not None}
    return {**inherited_environment(_INHERITED, ("LC_",)), **present, **pipes_env}


def _tail(text: str) -> str:
    return text if len(text) <= _TAIL_CHARS else "…" + text[-_TAIL_CHARS:]


class PythonRecipesResource(ConfigurableResource):
    """Recipes folder from HONEYFRAME_PYTHON_RECIPES_DIR; default timeout HONEYFRAME_PYTHON_RECIPE_TIMEOUT_SECONDS
    (filled by `python_recipes_resource`)."""

    directory: str
    default_timeout_seconds: float

    @property
    def folder(self) -> Path:
        return Path(self.directory).expanduser().resolve()

    def path_for(self, name: str) -> Path:
        """The recipe's file; only a plain identifier is accepted, so a name cannot leave the folder."""
        if not RECIPE_NAME.match(name):
            raise RecipeNotFound(f"recipe {name!r} is not a valid recipe name (letters, digits and '_')")
        path = self.folder / f"{name}.py"
        if not path.is_file():
            raise RecipeNotFound(f"recipe '{name}' not found: no file {name}.py in {self.folder}")
        return path

    def run(
        self,
        context: OpExecutionContext,
        name: str,
        extras: Mapping[str, Any],
        timeout: float,
        secrets: Sequence[str] = (),
    ) -> list[Any]:
        """Run the recipe to completion; returns its custom messages. Raises Failure on error or timeout."""
        path = self.path_for(name)
        redactor = step_redactor()
        with open_pipes_session(
            context=context,
            context_injector=PipesTempFileContextInjector(),
            message_reader=RedactingMessageReader(redactor),
            extras=dict(extras),
        ) as session:
            process = subprocess.Popen(
                [sys.executable, str(path)],
                cwd=str(self.folder),
                env=child_env(secrets, session.get_bootstrap_env_vars()),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
                raise Failure(
                    f"recipe '{name}' was still running after {timeout:g} s and was stopped",
                    metadata={"stderr": MetadataValue.text(_tail(redactor.text(stderr)))},
                ) from None
            # Redacted whole, then cut: a cut could leave part of a secret that no longer matches.
            stdout, stderr = _tail(redactor.text(stdout)), _tail(redactor.text(stderr))
            if stdout.strip():
                context.log.info(f"recipe '{name}' output:\n{stdout}")
            if process.returncode != 0:
                context.log.error(f"recipe '{name}' exited with code {process.returncode}:\n{stderr}")
                raise Failure(
                    f"recipe '{name}' failed (exit code {process.returncode}):\n{stderr}",
                    metadata={"stderr": MetadataValue.text(stderr)},
                )
        return list(session.get_custom_messages())


def python_recipes_resource(settings: Settings) -> PythonRecipesResource:
    """The Python recipes' folder and default timeout (HONEYFRAME_PYTHON_RECIPE*)."""
    return PythonRecipesResource(
        directory=str(settings.python_recipes_dir),
        default_timeout_seconds=settings.python_recipe_timeout_seconds,
    )
