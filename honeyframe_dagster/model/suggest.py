""" "Did you mean …?": the closest known name to a misspelt one (a recipe, dashboard, dataset, agent, template, or a
document field), said where the error message is built.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import cache
from typing import Any

from pydantic import BaseModel

# How alike a name must be to be offered (difflib's ratio): 'mart_revenu' → 'mart_revenue', 'corn' → 'cron'.
CUTOFF = 0.6


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name most like `name`, None when none is close (or `name` is not a string)."""
    if not isinstance(name, str):
        return None
    matches = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=CUTOFF)
    return matches[0] if matches and matches[0] != name else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' to append to a message, or ''."""
    match = closest(name, known)
    return f" (did you mean '{match}'?)" if match is not None else ""


@cache
def _field_names() -> frozenset[str]:
    """Every field name of the documents, steps, triggers and request bodies (our pydantic models, as loaded)."""
    names: set[str] = set()
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.__module__.startswith(("honeyframe_dagster.", "api.")):
            names.update(name for name in model.model_fields if not name.startswith("_"))
            names.update(field.alias for field in model.model_fields.values() if field.alias)
    return frozenset(names)


def unknown_field_message(error: Any) -> str | None:
    """For pydantic's `extra_forbidden` error: its message with the field meant, when one is close; else None."""
    if not isinstance(error, dict) or error.get("type") != "extra_forbidden" or not error.get("loc"):
        return None
    written = error["loc"][-1]
    match = closest(written, _field_names()) if isinstance(written, str) else None
    if match is None:
        return None
    return f"{error['msg']}: did you mean '{match}'?"
