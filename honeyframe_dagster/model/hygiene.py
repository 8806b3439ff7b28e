"""Input hygiene shared by `apply` and the API: one-line text, and free-form JSON values that every store keeps.

A name, subject or title that holds NUL was stored by SQLite and refused by Postgres (a 500); one that holds a line
separator passes the API and is refused by every mail server at send time. A free-form value (`args`, parameters)
that holds NaN or a lone surrogate is stored and then cannot be rendered as JSON again. Both are refused at write
time, with the field and the offending character named, so what is stored is what every reader can use.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field

# Control characters (C0, DEL, C1 — NEL included), line and paragraph separators, lone surrogates.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
# Bidi embeddings, overrides and isolates: they make a name read differently from what it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# The same rule as a JSON-schema pattern, so generated clients (and fuzzers) know it too.
LINE_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"
MAX_NAME_LENGTH = 200
MAX_SQL_LENGTH = 100_000
MAX_JSON_DEPTH = 32
INT64_MAX = 2**63 - 1


def check_line(value: str) -> str:
    """One line of printable text: no control characters, no line separators, no bidi overrides."""
    for position, char in enumerate(value):
        if char in _BIDI_CONTROLS or unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise ValueError(
                f"must be one line of printable text; U+{ord(char):04X} at position {position} is not allowed"
            )
    return value


def check_json_value(value: Any, depth: int = 0) -> Any:
    """A free-form value every store and every JSON reader keeps as is: finite numbers that fit 64 bits,
    valid Unicode, at most MAX_JSON_DEPTH levels deep."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise ValueError(f"integer {value} does not fit 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"number {value} is not finite")
    elif isinstance(value, str):
        _check_unicode(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_unicode(str(key))
            check_json_value(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            check_json_value(item, depth + 1)
    return value


def _check_unicode(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = value[exc.start]
        raise ValueError(f"lone surrogate U+{ord(char):04X} at position {exc.start} is not valid Unicode") from None


# One line of printable text (subjects, titles); the pattern tells clients what the validator checks.
Line = Annotated[str, AfterValidator(check_line), Field(json_schema_extra={"pattern": LINE_PATTERN})]
# A name: one line of 1-200 characters.
Name = Annotated[Line, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
# A free-form value (step args, parameter values): finite, 64-bit integers, valid Unicode, bounded depth.
JsonValue = Annotated[Any, AfterValidator(check_json_value)]
