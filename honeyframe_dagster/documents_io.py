"""Reading `honeyframe apply` documents from YAML files, with errors that name file, index, field and value.

A file is bounded before it is parsed: at most HONEYFRAME_MAX_DOCUMENT_BYTES, and no YAML anchors or aliases
(an alias repeats a node without copying it, so a few hundred bytes of nested aliases expand to billions of values
for every reader after the parser: the "billion laughs").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from honeyframe_dagster.model.documents import DOCUMENT_ADAPTER, DOCUMENT_KINDS, Document
from honeyframe_dagster.model.errors import FieldError, InvalidDocument, dotted
from honeyframe_dagster.model.steps import STEP_KINDS
from honeyframe_dagster.model.suggest import unknown_field_message
from honeyframe_dagster.net_policy import redact_url
from honeyframe_dagster.settings import get_settings


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing anchors (`&a`) and aliases (`*a`, so `<<: *a` too) where they appear."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.YAMLError(f"line {event.start_mark.line + 1}: anchors and aliases are not allowed")
        return super().compose_node(parent, index)


@dataclass(frozen=True)
class Located:
    """A parsed document and where it came from."""

    document: Document
    path: Path
    index: int

    @property
    def where(self) -> str:
        return f"{self.path}: document[{self.index}]"


class DocumentErrors(ValueError):
    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


def yaml_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file()))
        elif path.exists():
            files.append(path)
        else:
            raise DocumentErrors([f"{path}: no such file or directory"])
    return files


def describe_validation_error(exc: ValidationError) -> list[str]:
    return [_line(error) for error in field_errors(exc)]


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors at the places the user wrote (without the discriminator tags pydantic adds to paths)."""
    found = []
    for error in exc.errors():
        loc: tuple[str | int, ...] = tuple(part for part in error["loc"] if not _is_tag(str(part)))
        value = error.get("input")
        message = unknown_field_message(error) or str(error["msg"]).removeprefix("Value error, ")
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidDocument):
            # A model-level check located the inner field itself ("steps", 0, "kind"); its line shows no value.
            inner = cause.first
            loc = (*loc, *inner.loc)
            found.append(FieldError(loc, inner.msg, inner.input, f"{dotted(loc)}: {inner.msg}"))
            continue
        if loc and loc[-1] == "url" and isinstance(value, str):
            value = redact_url(value)  # a URL's credentials never reach an error
        found.append(FieldError(loc, message, value))
    return found


def _is_tag(part: str) -> bool:
    """The discriminator ("Scenario", "run_recipe", "http", ...) is part of pydantic's path, not the user's."""
    return (
        part in DOCUMENT_KINDS
        or part.endswith("Step")
        or part in STEP_KINDS
        or part in {"file", "http", "sql", "platform", "function-after[_ordered(), TimeRange]"}
    )


def _line(error: FieldError) -> str:
    if error.line:
        return error.line
    where = dotted(error.loc) or "(document)"
    shown = "" if isinstance(error.input, dict) else f" (value: {_short(error.input)})"
    return f"{where}: {error.msg}{shown}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def parse_document(raw: Any) -> Document:
    """One document from its raw mapping; raises DocumentErrors with one line per problem."""
    if not isinstance(raw, dict):
        raise DocumentErrors([f"(document): expected a mapping, got {type(raw).__name__}"])
    kind = raw.get("kind")
    if kind not in DOCUMENT_KINDS:
        raise DocumentErrors([f"kind: unknown document kind {kind!r} (expected one of {', '.join(DOCUMENT_KINDS)})"])
    try:
        return DOCUMENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise DocumentErrors(describe_validation_error(exc)) from None


def read_text(path: Path, max_bytes: int) -> str:
    """The file's text; DocumentErrors when it holds more than `max_bytes` (read no further than that)."""
    with path.open("rb") as file:
        content = file.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise DocumentErrors([f"{path}: larger than HONEYFRAME_MAX_DOCUMENT_BYTES ({max_bytes} bytes); not read"])
    return content.decode("utf-8")


def load_yaml(text: str) -> list[Any]:
    """The documents of one YAML text, without anchors or aliases (yaml.YAMLError)."""
    return list(yaml.load_all(text, Loader=_BoundedLoader))


def read_documents(paths: Iterable[Path]) -> list[Located]:
    """Every document of every file; all problems of all files are collected before raising."""
    located: list[Located] = []
    errors: list[str] = []
    max_bytes = get_settings().max_document_bytes
    for path in yaml_files(paths):
        try:
            raws = load_yaml(read_text(path, max_bytes))
        except DocumentErrors as exc:
            errors.extend(exc.messages)
            continue
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            errors.append(f"{path}: not valid YAML: {exc}")
            continue
        for index, raw in enumerate(raw for raw in raws if raw is not None):
            try:
                located.append(Located(parse_document(raw), path, index))
            except DocumentErrors as exc:
                errors.extend(f"{path}: document[{index}]: {message}" for message in exc.messages)
    if errors:
        raise DocumentErrors(errors)
    return located
