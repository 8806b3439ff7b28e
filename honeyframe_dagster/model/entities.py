"""`{{ entity.COLUMN }}` placeholders: a step of a scenario whose trigger has `expand_from` takes each run's values
from one row of that query (docs/scheduling.md, "Fan-out per entity").

The version stores the steps as written, placeholders and all; each run's config has them rendered with its row
(factory/run_config.py). A step field that holds one is validated at write with a sample value in its place (the
first of `SAMPLES` that the field accepts, so `recipients: ["{{ entity.manager_email }}"]` is checked as a list of
e-mail addresses), and the run's op validates the rendered value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from honeyframe_dagster.model.errors import Loc, dotted

ENTITY = re.compile(r"\{\{\s*entity\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# What a placeholder stands for while its field is validated at write: a word, an address, a number.
SAMPLES: tuple[Any, ...] = ("sample", "owner@example.com", 1)
# Step fields that shape the job or the run's order: never an entity's value.
FIXED_FIELDS = ("kind", "parallel", "transactional", "retry", "run_if")


class EntityRenderError(ValueError):
    """A placeholder names a column the query did not return; the message names the field and the column."""


def has_entity(value: Any) -> bool:
    if isinstance(value, str):
        return ENTITY.search(value) is not None
    if isinstance(value, Mapping):
        return any(has_entity(item) for item in value.values())
    if isinstance(value, list):
        return any(has_entity(item) for item in value)
    return False


def columns(value: Any) -> set[str]:
    """The columns a config's entity placeholders name."""
    if isinstance(value, str):
        return set(ENTITY.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(columns(item) for item in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(columns(item) for item in value)) if value else set()
    return set()


def fields_with_entity(step: Mapping[str, Any]) -> list[str]:
    """The top-level fields of a step config that hold an entity placeholder."""
    return [key for key, item in step.items() if has_entity(item)]


def substitute(value: Any, lookup: Callable[[str, Loc], Any], path: Loc = ()) -> Any:
    """Each placeholder replaced by `lookup(column, path)`: a string that is one placeholder takes the value's own
    type; one inside a text takes its text."""
    if isinstance(value, str):
        whole = ENTITY.fullmatch(value.strip())
        if whole:
            return lookup(whole.group(1), path)
        return ENTITY.sub(lambda match: str(lookup(match.group(1), path)), value)
    if isinstance(value, Mapping):
        return {key: substitute(item, lookup, (*path, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, lookup, (*path, index)) for index, item in enumerate(value)]
    return value


def render_entity(value: Any, row: Mapping[str, Any], path: Loc = ("steps",)) -> Any:
    """`value` with the row's values in place of its placeholders; EntityRenderError naming a missing column."""

    def lookup(column: str, where: Loc) -> Any:
        if column not in row:
            known = ", ".join(row) or "none"
            raise EntityRenderError(f"{dotted(where)}: the expand_from query has no column '{column}' (has: {known})")
        found = row[column]
        return "" if found is None else found

    return substitute(value, lookup, path)


def sampled(step: Mapping[str, Any], choice: Mapping[str, int]) -> dict[str, Any]:
    """The step config with each field's placeholders replaced by `SAMPLES[choice[field]]` (default the first)."""
    return {
        key: substitute(item, lambda _column, _where, key=key: SAMPLES[choice.get(key, 0)])  # type: ignore[misc]
        for key, item in step.items()
    }


__all__ = [
    "ENTITY",
    "FIXED_FIELDS",
    "SAMPLES",
    "EntityRenderError",
    "columns",
    "fields_with_entity",
    "has_entity",
    "render_entity",
    "sampled",
]
