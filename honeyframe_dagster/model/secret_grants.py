"""Which environment variables a project's documents may name: the `HONEYFRAME_SECRET_*` variables its `secrets`
grants (set by an admin only), and the org-wide documented ones (`settings.DOCUMENTED_ENV`: the default agent
endpoint and the platform URL) that every project may name.

`settings.check_env_name` decides which variables a document may name at all; this module decides which of those
a project may name. It is checked when a document is written (a Dataset or an Agent: `check_document`; a
scenario's steps, and a template's steps as rendered for each project that has it: `check_steps`, called by
`model.scenario.resolve`), and again when a step runs: the op checks its step against the project's grants as
the store holds them then (`steps.context.current_step`: `check_step`), before any variable is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from honeyframe_dagster.model.documents import Agent, Dataset, PlatformConnector, Project, SqlConnector
from honeyframe_dagster.model.errors import FieldError, InvalidDocument, Loc, dotted
from honeyframe_dagster.settings import DOCUMENTED_ENV

if TYPE_CHECKING:
    from honeyframe_dagster.model.scenario import Catalog
    from honeyframe_dagster.model.steps import Step

ORG_WIDE = frozenset(DOCUMENTED_ENV)


class SecretNotGranted(InvalidDocument):
    """A document names a secret its project is not granted; each error names the field and the variable."""


def is_granted(name: str, project: Project) -> bool:
    return name in ORG_WIDE or name in project.granted


def document_variables(document: Dataset | Agent) -> list[tuple[Loc, str]]:
    """The variables a dataset's connector or an agent names, each with its field."""
    if isinstance(document, Agent):
        return [(("base_url_env",), document.base_url_env), (("api_key_env",), document.api_key_env)]
    connector = document.connector
    if isinstance(connector, SqlConnector):
        return [(("connector", "url_env"), connector.url_env)]
    if isinstance(connector, PlatformConnector):
        return [(("connector", "base_url_env"), connector.base_url_env)]
    return []


def _refusal(loc: Loc, name: str, project: Project, via: str = "") -> FieldError:
    return FieldError(
        loc,
        f"{via}{name} is not granted to project '{project.id}' (not in its `secrets`, which an admin sets)",
        name,
    )


def check_granted(variables: Iterable[tuple[Loc, str]], project: Project) -> None:
    """SecretNotGranted naming every field whose variable the project is not granted."""
    errors = [_refusal(loc, name, project) for loc, name in variables if not is_granted(name, project)]
    if errors:
        raise SecretNotGranted(errors)


def check_document(document: Dataset | Agent, project: Project) -> None:
    """A dataset or agent of `project` names only variables granted to it."""
    check_granted(document_variables(document), project)


def check_steps(steps: Sequence[Step], project: Project, catalog: Catalog) -> None:
    """A scenario's steps (rendered) name only variables granted to its project: their own, and those of the
    project's datasets and agents they use (a grant removed since those were written)."""
    errors = [error for index, step in enumerate(steps) for error in step_refusals(step, index, project, catalog)]
    if errors:
        raise SecretNotGranted(errors)


def check_step(step: Step, index: int, project: Project, catalog: Catalog) -> None:
    """`check_steps` for the one step an op runs (at `index` in its scenario), against the grants of now."""
    errors = step_refusals(step, index, project, catalog)
    if errors:
        raise SecretNotGranted(errors)


def step_refusals(step: Step, index: int, project: Project, catalog: Catalog) -> list[FieldError]:
    errors = [
        _refusal(("steps", index, *loc), name, project)
        for loc, name in step.variables()
        if not is_granted(name, project)
    ]
    for reference in step.references():
        if reference.collection not in ("datasets", "agents"):
            continue
        used = getattr(catalog, reference.collection).get((project.id, reference.name))
        for loc, name in document_variables(used) if used is not None else ():
            if not is_granted(name, project):
                via = f"{reference.noun} '{reference.name}' names {dotted(loc)}: "
                errors.append(_refusal(("steps", index, reference.field), name, project, via))
    return errors
