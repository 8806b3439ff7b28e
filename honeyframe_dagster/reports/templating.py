"""The Jinja2 environment of every report template (HTML and SVG under templates/): autoescaped, strict."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2 import Environment


@cache
def environment() -> Environment:
    # Imported here: jinja2 costs ~60 ms, which every import of the definitions would pay otherwise.
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("honeyframe_dagster.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
