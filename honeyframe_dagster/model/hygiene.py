"""Input hygiene shared by `apply` and the API: one-line text, and free-form JSON values that every store keeps.

A name, subject or title that holds NUL was stored by SQLite and refused by Postgres (a 500); one that holds a line
separator passes the API and is refused by every mail server at send time. A free-form value (`args`, parameters)
that holds NaN or a lone surrogate is stored and then cannot be rendered as JSON again. Both are refused at write
time, with the field and the offending character named, so what is stored is what every reader can use.
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field

# Control characters (C0, DEL, C1 — NEL included), line and paragraph separators, lone surrogates, and format
# characters (Cf: zero-width space U+200B, joiners U+200C/U+200D, bidi marks, embeddings, overrides and isolates,
# the BOM U+FEFF, soft hyphen U+00AD…): invisible, they make two names look alike or a name read differently.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs", "Cf"})


def _forbidden_ranges() -> list[tuple[int, int]]:
    """The forbidden code points but surrogates, as ranges. Only planes 0, 1 and 14 hold any (a tenth of the
    code points, scanned in milliseconds); `check_line` asks each character's category, wherever it is."""
    ranges: list[tuple[int, int]] = []
    for code in itertools.chain(range(0x20000), range(0xE0000, 0xF0000)):
        if unicodedata.category(chr(code)) in _FORBIDDEN_CATEGORIES - {"Cs"}:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return ranges


def _escape(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


# The same rule as a JSON-schema pattern, so generated clients (and fuzzers) know it too; lone surrogates cannot
# be sent in UTF-8 JSON at all (api/middleware.py refuses them).
LINE_PATTERN = (
    "^[^" + "".join(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in _forbidden_ranges()) + "]*$"
)
MAX_NAME_LENGTH = 200
MAX_SQL_LENGTH = 100_000
MAX_JSON_DEPTH = 32
INT64_MAX = 2**63 - 1


def check_line(value: str) -> str:
    """One line of printable text: no control characters, no line separators, no format characters (zero-width,
    joiners, bidi marks and overrides)."""
    for position, char in enumerate(value):
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise ValueError(
                f"must be one line of printable text; U+{ord(char):04X} at position {position} is not allowed"
            )
    return value


def check_json_value(value: Any) -> Any:
    """A free-form value every store and every JSON reader keeps as is: finite numbers, integers that fit 64 bits,
    valid Unicode, at most MAX_JSON_DEPTH levels deep."""
    problem = json_problem(value)
    if problem is not None:
        path, message = problem
        raise ValueError(f"{format_path(path)}: {message}" if path else message)
    return value


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> tuple[list[str | int], str] | None:
    """The first place in a parsed JSON value that a store or a response could not keep, and why; else None.

    Iterative, so a deeply nested value cannot exhaust the stack while it is checked."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        node, path = stack.pop()
        if len(path) > max_depth:
            return path[:max_depth], f"nested deeper than {max_depth} levels"
        if isinstance(node, bool) or node is None:
            continue
        if isinstance(node, int):
            if not -INT64_MAX - 1 <= node <= INT64_MAX:
                return path, "integer does not fit 64 bits"
        elif isinstance(node, float):
            if not math.isfinite(node):
                return path, f"number {node} is not finite"
        elif isinstance(node, str):
            problem = _unicode_problem(node)
            if problem is not None:
                return path, problem
        elif isinstance(node, Mapping):
            for key, item in node.items():
                problem = _unicode_problem(str(key))
                if problem is not None:
                    return path, f"key {problem}"
                stack.append((item, [*path, str(key)]))
        elif isinstance(node, list | tuple):
            stack.extend((item, [*path, index]) for index, item in enumerate(node))
    return None


def format_path(path: list[str | int]) -> str:
    """["args", "x", 0] → "args.x[0]"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _unicode_problem(value: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds a lone surrogate U+{ord(value[exc.start]):04X} at position {exc.start} (not valid Unicode)"
    return None


# One line of printable text (subjects, titles); the pattern tells clients what the validator checks.
Line = Annotated[str, AfterValidator(check_line), Field(json_schema_extra={"pattern": LINE_PATTERN})]


def check_not_blank(value: str) -> str:
    """A name people tell apart by reading it: not only spaces."""
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# A name: one line of 1-200 characters, not only spaces.
Name = Annotated[Line, AfterValidator(check_not_blank), Field(min_length=1, max_length=MAX_NAME_LENGTH)]
# A free-form value (step args, parameter values): finite, 64-bit integers, valid Unicode, bounded depth.
JsonValue = Annotated[Any, AfterValidator(check_json_value)]
