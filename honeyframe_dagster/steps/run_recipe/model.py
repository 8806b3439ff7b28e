"""`run_recipe`: the step's model and the check that its recipes are dbt nodes."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Literal, Self

from pydantic import Field, model_validator

from honeyframe_dagster.model.errors import ScenarioError
from honeyframe_dagster.model.identifiers import CatalogName
from honeyframe_dagster.model.kinds import StepKind
from honeyframe_dagster.model.step_base import MAX_LIST_ITEMS, _Step
from honeyframe_dagster.model.suggest import did_you_mean

if TYPE_CHECKING:
    from honeyframe_dagster.model.scenario import Catalog


class RunRecipeStep(_Step):
    """`dbt build` of one or more recipes (dbt models)."""

    schema_one_of = ({"required": ["recipe"]}, {"required": ["recipes"]})
    kind: Literal["run_recipe"]
    recipe: CatalogName | None = None
    recipes: list[CatalogName] | None = Field(
        default=None, max_length=MAX_LIST_ITEMS, json_schema_extra={"minItems": 1}
    )

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.recipe is None) == (self.recipes is None):
            raise ValueError("run_recipe needs exactly one of 'recipe' or 'recipes'")
        if self.recipes is not None and not self.recipes:
            raise ValueError("run_recipe 'recipes' must not be empty")
        return self

    @property
    def selection(self) -> list[str]:
        return [self.recipe] if self.recipe is not None else list(self.recipes or [])


def check_references(
    step: RunRecipeStep, index: int, project_id: str, catalog: Catalog, recipes: Collection[str] | None
) -> None:
    if recipes is None:
        return
    for name in step.selection:
        if name not in recipes:
            message = f"unknown recipe '{name}' (not a dbt model, seed or snapshot){did_you_mean(name, recipes)}"
            raise ScenarioError.at(("steps", index, "recipe"), message, name)


KIND = StepKind(RunRecipeStep, check_references)
