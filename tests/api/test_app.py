"""Health, OpenAPI, errors without internals, and refusing to start on a store that does not boot."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import SchedulerWorkerRow
from tests.api.conftest import Api

HEALTH = "/api/pipeline/scheduler/health"


def test_health_follows_the_heartbeat(api: Api, store_url: str) -> None:
    assert api.call("GET", HEALTH, token=None, project=None).json() == {
        "alive": False,
        "last_seen": None,
        "status": "red",
    }
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=120)
    with Session(get_engine(store_url)) as session, session.begin():
        session.add(SchedulerWorkerRow(worker_id="w1", last_seen_at=old))
    stale = api.call("GET", HEALTH, token=None, project=None)
    assert stale.status_code == 503 and dt.datetime.fromisoformat(stale.json()["last_seen"]) == old
    with Session(get_engine(store_url)) as session, session.begin():
        session.add(SchedulerWorkerRow(worker_id="w2", last_seen_at=dt.datetime.now(dt.UTC)))
    alive = api.call("GET", HEALTH, token=None, project=None)
    assert alive.status_code == 200 and alive.json()["alive"] is True


def test_openapi_names_and_documents_every_model(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for name in (
        "ScenarioCreate",
        "ScenarioUpdate",
        "ScenarioPublic",
        "ScenarioDetail",
        "RunPage",
        "RunPublic",
        "Template",
        "TemplatePublic",
        "TemplateList",
        "EnableBody",
        "Health",
        "Trigger",
        "RunAccepted",
        "ProjectCreate",
        "ProjectUpdate",
        "ProjectPublic",
        "ProjectList",
    ):
        assert name in schemas and schemas[name].get("description"), name
    assert "/api/scheduler/scenarios/{scenario_id}/runs" in spec["paths"]


def test_docs_work_offline(api: Api) -> None:
    """/docs loads Swagger UI from the API itself (the swagger-ui-bundle-v2 package), nothing from elsewhere."""
    page = api.client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert len(urls) >= 4 and not [u for u in urls if not u.startswith("/")], urls
    assert "cdn" not in page.text.lower() and "http://" not in page.text and "https://" not in page.text
    for url in urls:
        asset = api.client.get(url)
        assert asset.status_code == 200 and asset.content, url
    assert "SwaggerUIBundle" in api.client.get("/docs/assets/swagger-ui-bundle.js").text
    assert api.client.get("/redoc").status_code == 404  # ReDoc would need a CDN: not offered


def test_5xx_carries_a_request_id_and_no_internals(api: Api, store_url: str) -> None:
    with get_engine(store_url).begin() as connection:
        connection.execute(text("DROP TABLE scenario_versions"))
    response = api.call("GET", "/api/scheduler/scenarios")
    assert response.status_code == 500
    body = response.json()
    assert body["detail"] == "internal error" and body["request_id"] == response.headers["X-Request-ID"]
    assert "scenario_versions" not in response.text and "Error" not in response.text


def test_api_refuses_to_start_when_boot_fails(hf_home, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.main import create_app

    monkeypatch.setenv("HONEYFRAME_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/no_such_database")
    with pytest.raises(Exception, match="no_such_database"), TestClient(create_app()):
        pass


def test_unreachable_dagster(hf_home, apply_yaml, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write is committed and says so in its header; a run needs Dagster: 503 without internals."""
    from api.main import create_app
    from honeyframe_dagster.settings import get_settings
    from tests.api.conftest import SEED_YAML, free_port, make_tokens

    monkeypatch.setenv("HONEYFRAME_DAGSTER_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert apply_yaml(SEED_YAML) == 0
    api = Api(TestClient(create_app(), raise_server_exceptions=False), make_tokens(get_settings()))
    with api.client:
        body = {
            "name": "n",
            "trigger": {"interval_seconds": 600},
            "steps": [{"kind": "run_recipe", "recipe": "stg_orders"}],
        }
        created = api.call("POST", "/api/scheduler/scenarios", json=body)
        assert created.status_code == 201 and created.headers["X-Honeyframe-Dagster-Sync"] == "failed"
        assert created.json()["dagster"]["trigger_status"] == "UNKNOWN"
        run = api.call("POST", f"/api/scheduler/scenarios/{created.json()['id']}/run")
        assert run.status_code == 503 and run.headers["X-Request-ID"] in run.json()["detail"]
        assert "127.0.0.1" not in run.text and "Connect" not in run.text
