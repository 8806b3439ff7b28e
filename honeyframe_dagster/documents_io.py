"""Reading `honeyframe apply` documents from YAML files, with errors that name file, index, field and value."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from honeyframe_dagster.model.documents import DOCUMENT_ADAPTER, DOCUMENT_KINDS, Document
from honeyframe_dagster.model.steps import STEP_KINDS
from honeyframe_dagster.net_policy import redact_url

_INNER_PATH = re.compile(r"^(?P<path>[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)+): (?P<msg>.+)$", re.S)


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
    messages = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        # The discriminator ("Scenario", "run_recipe", ...) is part of pydantic's path, not the user's.
        loc = [
            part
            for part in loc
            if part not in DOCUMENT_KINDS
            and not part.endswith("Step")
            and part not in STEP_KINDS
            and part
            not in {
                "file",
                "http",
                "sql",
                "platform",
                "function-after[_ordered(), TimeRange]",
            }
        ]
        where = "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in loc).lstrip(".") or "(document)"
        value = error.get("input")
        if loc and loc[-1] == "url" and isinstance(value, str):
            value = redact_url(value)  # a URL's credentials never reach an error
        shown = "" if isinstance(value, dict) else f" (value: {_short(value)})"
        message = error["msg"].removeprefix("Value error, ")
        # A document-level check names the field in its message ("steps[0].recipients: ..."): that is the place.
        inner = _INNER_PATH.match(message) if error["type"] == "value_error" and where == "(document)" else None
        if inner:
            where, message = inner.group("path"), inner.group("msg")
        messages.append(f"{where}: {message}{shown}")
    return messages


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


def read_documents(paths: Iterable[Path]) -> list[Located]:
    """Every document of every file; all problems of all files are collected before raising."""
    located: list[Located] = []
    errors: list[str] = []
    for path in yaml_files(paths):
        try:
            raws = [raw for raw in yaml.safe_load_all(path.read_text())]
        except yaml.YAMLError as exc:
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
