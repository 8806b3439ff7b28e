"""Secrets are granted per project (`Project.secrets`, set by an admin only): a document that names a secret its
project is not granted is refused at write, by `apply` and by the API, naming the field and the variable; the
migration grants existing projects what their documents name. Both stores."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from honeyframe_dagster.store import schema
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ProjectRow
from tests.api.conftest import Api
from tests.conftest import ApplyYaml, granting

SCENARIOS = "/api/scheduler/scenarios"
PROJECTS = "/api/scheduler/projects"
OPS_AGENT = """
kind: Agent
id: hook-agent
project: acme-ops
model: m
base_url_env: HONEYFRAME_SECRET_OPS_HOOK
api_key_env: HONEYFRAME_SECRET_SALES_TOKEN
"""
TOKEN_SCENARIO = {
    "name": "score",
    "trigger": {"interval_seconds": 3600},
    "steps": [{"kind": "run_python", "recipe": "score_inventory", "secrets": ["HONEYFRAME_SECRET_OPS_TOKEN"]}],
}
HOOK_TEMPLATE = """
kind: Template
slug: failure-hook
display_name: Failure hook
parameters:
  - {name: hook, type: string}
trigger: {cron: "0 3 * * *"}
steps:
  - {kind: notify_webhook, url_env: "{{ param.hook }}"}
"""


def _granted(store_url: str, project_id: str) -> list[str]:
    with Session(get_engine(store_url)) as session:
        return list(session.scalar(select(ProjectRow.secrets).where(ProjectRow.id == project_id)))


def test_apply_refuses_an_agent_that_names_another_projects_secret(
    api: Api, apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply_yaml(granting("acme-sales", "HONEYFRAME_SECRET_SALES_TOKEN")) == 0
    assert apply_yaml(granting("acme-ops", "HONEYFRAME_SECRET_OPS_HOOK")) == 0
    capsys.readouterr()
    assert apply_yaml(OPS_AGENT) == 1
    err = capsys.readouterr().err
    assert "api_key_env: HONEYFRAME_SECRET_SALES_TOKEN is not granted to project 'acme-ops'" in err
    assert "base_url_env" not in err  # granted: only the ungranted field is named
    assert "nothing was applied" in err
    # The org-wide documented variables stay usable by every project.
    org_wide = OPS_AGENT.replace("HONEYFRAME_SECRET_SALES_TOKEN", "HONEYFRAME_AGENT_API_KEY")
    assert apply_yaml(org_wide) == 0
    # A dataset's connector too.
    dataset = "kind: Dataset\nid: o\nproject: acme-ops\nconnector: {type: sql, url_env: HONEYFRAME_SECRET_X, query: q}"
    assert apply_yaml(dataset) == 1
    assert "connector.url_env: HONEYFRAME_SECRET_X is not granted to project 'acme-ops'" in capsys.readouterr().err
    # Granted in the same apply: accepted.
    assert apply_yaml(granting("acme-ops", "HONEYFRAME_SECRET_X") + dataset) == 0
    # A Project document without `secrets` leaves the grants as they are; `secrets: []` revokes them.
    assert apply_yaml("kind: Project\nid: acme-ops\nname: Acme Operations\nowner_email: olaf@acme.example") == 0
    assert api.call("GET", f"{PROJECTS}/acme-ops", project=None).json()["secrets"] == ["HONEYFRAME_SECRET_X"]


def test_a_project_token_cannot_name_or_grant_an_ungranted_secret(api: Api) -> None:
    created = api.call("POST", SCENARIOS, token="sales", json=TOKEN_SCENARIO)
    assert created.status_code == 422, created.text
    (error,) = created.json()["detail"]
    assert error["loc"] == ["body", "steps", 0, "secrets", 0]
    assert "HONEYFRAME_SECRET_OPS_TOKEN is not granted to project 'acme-sales'" in error["msg"]
    assert error["input"] == "HONEYFRAME_SECRET_OPS_TOKEN"
    # Nor may it grant itself the secret: `secrets` is an admin's.
    grant = {"secrets": ["HONEYFRAME_SECRET_OPS_TOKEN"]}
    refused = api.call("PATCH", f"{PROJECTS}/acme-sales", token="sales", project=None, json=grant)
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    # Its other fields it may still change, and its grants stay.
    renamed = api.call("PATCH", f"{PROJECTS}/acme-sales", token="sales", project=None, json={"name": "Sales"})
    assert renamed.status_code == 200 and renamed.json()["secrets"] == []
    granted = api.call("PATCH", f"{PROJECTS}/acme-sales", project=None, json=grant)
    assert granted.status_code == 200 and granted.json()["secrets"] == ["HONEYFRAME_SECRET_OPS_TOKEN"]
    assert api.call("POST", SCENARIOS, token="sales", json=TOKEN_SCENARIO).status_code == 201
    # An update that names another ungranted secret: 422 naming it.
    scenario_id = api.call("GET", SCENARIOS, token="sales").json()["items"][0]["id"]
    steps = [{**TOKEN_SCENARIO["steps"][0], "secrets": ["HONEYFRAME_SECRET_OPS_TOKEN", "HONEYFRAME_SECRET_Y"]}]
    patched = api.call("PATCH", f"{SCENARIOS}/{scenario_id}", token="sales", json={"steps": steps})
    assert patched.status_code == 422
    assert [(e["loc"], e["input"]) for e in patched.json()["detail"]] == [
        (["body", "steps", 0, "secrets", 1], "HONEYFRAME_SECRET_Y")
    ]
    assert api.call("PATCH", f"{PROJECTS}/acme-sales", project=None, json={"secrets": None}).status_code == 422


def test_an_admin_sets_secrets_when_creating_a_project(api: Api) -> None:
    body: dict[str, Any] = {"id": "acme-hr", "name": "HR", "owner_email": "h@acme.example"}
    plain = api.call("POST", PROJECTS, project=None, json=body)
    assert plain.status_code == 201 and plain.json()["secrets"] == []
    body = {**body, "id": "acme-fin", "secrets": ["HONEYFRAME_SECRET_FIN", "HONEYFRAME_AGENT_API_KEY"]}
    refused = api.call("POST", PROJECTS, project=None, json=body)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "secrets", 1]
    body["secrets"] = ["HONEYFRAME_SECRET_FIN"]
    assert api.call("POST", PROJECTS, project=None, json=body).json()["secrets"] == ["HONEYFRAME_SECRET_FIN"]


def test_a_template_instance_is_checked_per_project(api: Api, apply_yaml: ApplyYaml) -> None:
    assert apply_yaml(HOOK_TEMPLATE) == 0
    assert apply_yaml(granting("acme-ops", "HONEYFRAME_SECRET_OPS_WEBHOOK")) == 0
    parameters = {"parameters": {"hook": "HONEYFRAME_SECRET_OPS_WEBHOOK"}}
    enable = "/api/scheduler/templates/failure-hook/enable/{}"
    assert api.call("POST", enable.format("acme-ops"), project=None, json=parameters).status_code == 200
    refused = api.call("POST", enable.format("acme-sales"), project=None, json=parameters)
    assert refused.status_code == 422, refused.text
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "parameters", "hook"]
    assert "HONEYFRAME_SECRET_OPS_WEBHOOK is not granted to project 'acme-sales'" in error["msg"]


NOW = "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
HOOK_TEMPLATE_ROW = {
    "slug": "hook",
    "display_name": "Hook",
    "parameters": [{"name": "hook", "type": "string", "default": "HONEYFRAME_SECRET_DEFAULT_HOOK"}],
    "trigger": {"cron": "0 3 * * *"},
    "steps": [{"kind": "notify_webhook", "url_env": "{{ param.hook }}"}],
}
OWN_STEPS = [
    # `args` is the recipe's own data: a name in it is no grant.
    {
        "kind": "run_python",
        "recipe": "r",
        "secrets": ["HONEYFRAME_SECRET_OPS_TOKEN"],
        "args": {"url_env": "HONEYFRAME_SECRET_NO"},
    }
]
STORED_SCENARIOS = [
    ("acme-ops", "own", None, {}, OWN_STEPS),
    ("acme-ops", "hook", "hook", {"hook": "HONEYFRAME_SECRET_OPS_HOOK"}, None),
    ("acme-sales", "hook", "hook", {}, None),  # the parameter's default
]
STORED_OBJECTS = [
    ("datasets", "acme-sales", {"connector": {"type": "sql", "url_env": "HONEYFRAME_SECRET_SALES_DB_URL"}}),
    (
        "agents",
        "acme-sales",
        {"base_url_env": "HONEYFRAME_AGENT_BASE_URL", "api_key_env": "HONEYFRAME_SECRET_SALES_KEY"},
    ),
]


def test_the_migration_grants_each_project_what_its_documents_name(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = get_engine(store_url)
    config = schema.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    with engine.begin() as connection:
        for project in ("acme-sales", "acme-ops", "acme-hr"):
            insert = (
                f"INSERT INTO projects (id, name, owner_email, created_at, updated_at) VALUES (:id, :id, 'a@b.c', {NOW}"
            )
            connection.execute(text(insert), {"id": project})
        connection.execute(
            text(
                "INSERT INTO templates (slug, display_name, default_enabled, document, created_at, updated_at) "
                f"VALUES ('hook', 'Hook', false, :d, {NOW}"
            ),
            {"d": json.dumps(HOOK_TEMPLATE_ROW)},
        )
        for project, name, slug, parameters, steps in STORED_SCENARIOS:
            connection.execute(
                text(
                    "INSERT INTO scenarios (project_id, name, template_slug, parameters, steps, enabled, created_at, "
                    f"updated_at) VALUES (:p, :n, :t, :params, :s, true, {NOW}"
                ),
                {
                    "p": project,
                    "n": name,
                    "t": slug,
                    "params": json.dumps(parameters),
                    "s": steps and json.dumps(steps),
                },
            )
        for table, project, document in STORED_OBJECTS:
            connection.execute(
                text(
                    f"INSERT INTO {table} (project_id, id, document, created_at, updated_at) VALUES (:p, 'x', :d, {NOW}"
                ),
                {"p": project, "d": json.dumps(document)},
            )
    with caplog.at_level(logging.WARNING, logger="honeyframe.store"):
        schema.upgrade(engine)
    assert _granted(store_url, "acme-ops") == ["HONEYFRAME_SECRET_OPS_HOOK", "HONEYFRAME_SECRET_OPS_TOKEN"]
    assert _granted(store_url, "acme-sales") == [
        "HONEYFRAME_SECRET_DEFAULT_HOOK",
        "HONEYFRAME_SECRET_SALES_DB_URL",
        "HONEYFRAME_SECRET_SALES_KEY",
    ]
    assert _granted(store_url, "acme-hr") == []
    said = [r.getMessage() for r in caplog.records if "granted" in r.getMessage()]
    assert len(said) == 2
    assert "'acme-ops'" in said[0] and "HONEYFRAME_SECRET_OPS_HOOK, HONEYFRAME_SECRET_OPS_TOKEN" in said[0]
    assert "'acme-sales'" in said[1] and "HONEYFRAME_SECRET_SALES_KEY" in said[1]
    # The column is added in place: on SQLite a copied-and-dropped `projects` would cascade to every scenario.
    counts = "SELECT (SELECT count(*) FROM scenarios), (SELECT count(*) FROM datasets), (SELECT count(*) FROM agents)"
    with engine.connect() as connection:
        assert tuple(connection.execute(text(counts)).one()) == (3, 1, 1)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    with engine.connect() as connection:
        assert tuple(connection.execute(text(counts)).one()) == (3, 1, 1)
