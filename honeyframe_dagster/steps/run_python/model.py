"""`run_python`: the step's model and the check that its recipe file exists."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from honeyframe_dagster.model.errors import Loc, ScenarioError
from honeyframe_dagster.model.hygiene import JsonValue
from honeyframe_dagster.model.identifiers import PythonName
from honeyframe_dagster.model.kinds import StepKind
from honeyframe_dagster.model.step_base import (
    MAX_LIST_ITEMS,
    MAX_SECRETS,
    MAX_TIMEOUT_SECONDS,
    SecretName,
    _Step,
)
from honeyframe_dagster.model.suggest import did_you_mean
from honeyframe_dagster.settings import get_settings

if TYPE_CHECKING:
    from honeyframe_dagster.model.scenario import Catalog


class RunPythonStep(_Step):
    """Run a standalone Python recipe in a subprocess through Dagster Pipes."""

    kind: Literal["run_python"]
    recipe: PythonName
    args: dict[str, JsonValue] = Field(default_factory=dict, max_length=MAX_LIST_ITEMS)
    timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_SECONDS, description="At most 24 h.")
    secrets: list[SecretName] = Field(
        default_factory=list,
        max_length=MAX_SECRETS,
        description="The HONEYFRAME_SECRET_* variables the recipe's process sees; it sees no other secret; each "
        "granted to the project (Project.secrets).",
    )

    def variables(self) -> list[tuple[Loc, str]]:
        return [(("secrets", index), name) for index, name in enumerate(self.secrets)]


def check_references(
    step: RunPythonStep, index: int, project_id: str, catalog: Catalog, recipes: Collection[str] | None
) -> None:
    """Checked with the code location's files only (`recipes` given), like run_recipe's dbt nodes."""
    if recipes is None:
        return
    folder = catalog.python_recipes_dir or get_settings().python_recipes_dir
    if not (folder.expanduser() / f"{step.recipe}.py").is_file():
        hint = did_you_mean(step.recipe, [path.stem for path in folder.expanduser().glob("*.py")])
        raise ScenarioError.at(
            ("steps", index, "recipe"),
            f"unknown python recipe '{step.recipe}' (no {step.recipe}.py in HONEYFRAME_PYTHON_RECIPES_DIR){hint}",
            step.recipe,
        )


KIND = StepKind(RunPythonStep, check_references, legacy_target="recipe")
