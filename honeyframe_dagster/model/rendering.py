"""`{{ param.NAME }}` and `{{ project.FIELD }}` substitution in template step configs. `{{ entity.COLUMN }}` is
left as written: each run of an `expand_from` trigger renders it with its row (model/entities.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from honeyframe_dagster.model.errors import FieldError, InvalidDocument, Loc, dotted

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_REFERENCE = re.compile(r"^(param|project|entity)\.([A-Za-z_][A-Za-z0-9_]*)$")
PROJECT_FIELDS = ("id", "name", "owner_email", "timezone")


class RenderError(InvalidDocument):
    """A placeholder that cannot be resolved, at `loc` in the step config; when a template parameter is at fault,
    the error is located at that parameter."""

    def __init__(self, loc: Loc, message: str, parameter: str | None = None) -> None:
        line = f"{dotted(loc)}: {message}"
        where = FieldError(("parameters", parameter), line, None, line) if parameter else FieldError(loc, message)
        super().__init__([where])


def references(value: Any) -> set[tuple[str, str]]:
    """Every (namespace, name) a config refers to; raises on a malformed placeholder."""
    found: set[tuple[str, str]] = set()

    def visit(node: Any, path: Loc) -> None:
        if isinstance(node, str):
            for match in PLACEHOLDER.finditer(node):
                found.add(_parse(match.group(1), path))
        elif isinstance(node, Mapping):
            for key, item in node.items():
                visit(item, (*path, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                visit(item, (*path, index))

    visit(value, ("steps",))
    return found


def has_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return PLACEHOLDER.search(value) is not None
    if isinstance(value, Mapping):
        return any(has_placeholder(item) for item in value.values())
    if isinstance(value, list):
        return any(has_placeholder(item) for item in value)
    return False


def render(value: Any, params: Mapping[str, Any], project: Mapping[str, Any], path: Loc = ("steps",)) -> Any:
    """Substitute placeholders. A string that is one placeholder takes the value's own type (integer, list).

    A list item that is one placeholder of a list parameter is spliced into its list, so
    `recipients: ["{{ project.owner_email }}", "{{ param.more }}"]` renders as one flat list.
    """
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole and _parse(whole.group(1), path)[0] == "entity":
            return value
        if whole:
            return _lookup(_parse(whole.group(1), path), params, project, path)
        return PLACEHOLDER.sub(lambda m: _inline(_parse(m.group(1), path), params, project, path), value)
    if isinstance(value, Mapping):
        return {key: render(item, params, project, (*path, key)) for key, item in value.items()}
    if isinstance(value, list):
        rendered: list[Any] = []
        for index, item in enumerate(value):
            result = render(item, params, project, (*path, index))
            spliced = isinstance(item, str) and isinstance(result, list) and PLACEHOLDER.fullmatch(item.strip())
            rendered.extend(result) if spliced else rendered.append(result)
        return rendered
    return value


def _inline(ref: tuple[str, str], params: Mapping[str, Any], project: Mapping[str, Any], path: Loc) -> str:
    if ref[0] == "entity":
        return "{{ entity." + ref[1] + " }}"
    value = _lookup(ref, params, project, path)
    if isinstance(value, list):
        raise RenderError(path, f"list parameter '{ref[1]}' must be the whole value, not part of a text", ref[1])
    return str(value)


def _parse(expression: str, path: Loc) -> tuple[str, str]:
    match = _REFERENCE.match(expression)
    if not match:
        raise RenderError(
            path,
            f"unsupported placeholder '{{{{ {expression} }}}}' "
            "(use '{{ param.NAME }}', '{{ project.FIELD }}' or '{{ entity.COLUMN }}')",
        )
    namespace, name = match.groups()
    if namespace == "project" and name not in PROJECT_FIELDS:
        raise RenderError(path, f"undefined project field '{name}' (known: {', '.join(PROJECT_FIELDS)})")
    return namespace, name


def _lookup(ref: tuple[str, str], params: Mapping[str, Any], project: Mapping[str, Any], path: Loc) -> Any:
    namespace, name = ref
    source = params if namespace == "param" else project
    if name not in source or source[name] is None:
        what = "parameter" if namespace == "param" else "project field"
        raise RenderError(path, f"undefined {what} '{name}'", name if namespace == "param" else None)
    return source[name]
