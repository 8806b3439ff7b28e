"""The ids and names documents and steps are written with, as types. Each checks its pattern with an error that says
in words what is allowed (pydantic's own error would show the regular expression: "String should match pattern
'^[a-z0-9](?:…'"), and documents the pattern in the JSON schema for clients and fuzzers, as hygiene.Line does.
`apply` and the API name the field and the value beside the message.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

# Project ids, template slugs and calendar ids.
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
SLUG_RULE = "1 to 64 lowercase letters, digits and '-', not starting or ending with '-'"
PROJECT_ID_PATTERN = SLUG_PATTERN
# Tables, columns and template parameters: identifiers in SQL and in placeholders.
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
IDENTIFIER_RULE = "1 to 63 letters, digits and '_', not starting with a digit"
# What a project's catalog names: datasets, dashboards, agents, dbt recipes.
CATALOG_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$"
CATALOG_NAME_RULE = "1 to 128 letters, digits, '_', '.' and '-', starting with a letter or '_'"
# A Python recipe: a module name.
PYTHON_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
PYTHON_NAME_RULE = "1 to 128 letters, digits and '_', not starting with a digit"
WEB_URL_PATTERN = r"^https?://"
WEB_URL_RULE = "an address starting with http:// or https://"


def _matching(pattern: str, rule: str, *, whole: bool = True) -> AfterValidator:
    """The check of `pattern`: the whole value (`$` must not let a trailing newline through), or its start."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        matched = compiled.fullmatch(value) if whole else compiled.match(value)
        if matched is None:
            # No value in the message: the field and its value are shown beside it, a URL's credentials redacted
            # there (documents_io.field_errors).
            raise ValueError(f"must be {rule}")
        return value

    return AfterValidator(check)


Slug = Annotated[str, _matching(SLUG_PATTERN, SLUG_RULE), Field(json_schema_extra={"pattern": SLUG_PATTERN})]
Identifier = Annotated[
    str, _matching(IDENTIFIER_PATTERN, IDENTIFIER_RULE), Field(json_schema_extra={"pattern": IDENTIFIER_PATTERN})
]
CatalogName = Annotated[
    str,
    _matching(CATALOG_NAME_PATTERN, CATALOG_NAME_RULE),
    Field(json_schema_extra={"pattern": CATALOG_NAME_PATTERN}),
]
PythonName = Annotated[
    str, _matching(PYTHON_NAME_PATTERN, PYTHON_NAME_RULE), Field(json_schema_extra={"pattern": PYTHON_NAME_PATTERN})
]
WebUrl = Annotated[
    str, _matching(WEB_URL_PATTERN, WEB_URL_RULE, whole=False), Field(json_schema_extra={"pattern": WEB_URL_PATTERN})
]
ProjectId = Slug
