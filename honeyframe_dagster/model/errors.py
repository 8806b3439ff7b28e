"""The one shape of an input error, from the model through the CLI and the API: where, what, and the value.

`loc` is the path in the document as written (`("steps", 0, "recipe")`), `msg` what is wrong, `input` the value
found there. The CLI prints `line` (`steps[0].recipe: unknown recipe 'x'`); the API answers `{loc, msg, input}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

Loc = tuple[str | int, ...]


def dotted(loc: Sequence[str | int]) -> str:
    """`steps[0].recipe`: a location as people read it."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


@dataclass(frozen=True)
class FieldError:
    """One problem: `line` is how the CLI says it (default `loc: msg`), e.g. naming a step field that a template
    parameter filled while `loc` points at the parameter."""

    loc: Loc
    msg: str
    input: Any = None
    line: str = ""

    def __str__(self) -> str:
        if self.line:
            return self.line
        return f"{dotted(self.loc)}: {self.msg}" if self.loc else self.msg


class InvalidDocument(ValueError):
    """A document that cannot be accepted, with one FieldError per problem; `context` (e.g. which template
    instance) prefixes the CLI line only. A ValueError, so pydantic validators may raise it (it stays reachable
    as the error's `ctx["error"]`)."""

    def __init__(self, errors: Sequence[FieldError], context: str = "") -> None:
        self.errors = list(errors)
        self.context = context
        super().__init__(str(self))

    def __str__(self) -> str:
        prefix = f"{self.context}: " if self.context else ""
        return "\n".join(f"{prefix}{error}" for error in self.errors)

    @property
    def first(self) -> FieldError:
        return self.errors[0]

    @classmethod
    def at(cls, loc: Loc, msg: str, value: Any = None, line: str = "") -> Self:
        """One problem at `loc`."""
        return cls([FieldError(loc, msg, value, line)])

    def within(self, context: str) -> Self:
        """The same errors, said of `context` (outermost first)."""
        return type(self)(self.errors, f"{context}: {self.context}" if self.context else context)


class ScenarioError(InvalidDocument):
    """A scenario that cannot be built (below both the scenario model and the step kinds that raise it); each
    error names the field and the value."""
