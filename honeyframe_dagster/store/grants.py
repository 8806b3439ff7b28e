"""The secrets granted to a project, as the store holds them (`projects.secrets`), checked when a dataset or an
agent is written (model/secret_grants.py says which variables a project may name)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from honeyframe_dagster.model.documents import Agent, Dashboard, Dataset
from honeyframe_dagster.model.errors import ScenarioError
from honeyframe_dagster.model.secret_grants import SecretNotGranted, check_document
from honeyframe_dagster.store.catalog import project_model
from honeyframe_dagster.store.tables import ProjectRow


def check_object_secrets(session: Session, document: Dataset | Dashboard | Agent) -> None:
    """A dataset's connector or an agent names only variables its project is granted (as written in this
    transaction: a Project applied in the same call counts); raises ScenarioError naming each field."""
    project = session.get(ProjectRow, document.project)
    if project is None or isinstance(document, Dashboard):
        return
    try:
        check_document(document, project_model(project))
    except SecretNotGranted as exc:
        raise ScenarioError(exc.errors) from None
