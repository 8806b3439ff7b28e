"""Auth and tenancy: 401 without a known token, 403 outside the token's projects or admin rights, 404 across
projects so ids do not leak; tokens from the CLI are stored hashed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from honeyframe_dagster.cli import main as honeyframe
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ApiTokenRow
from tests.api.conftest import Api

BASE = "/api/scheduler/scenarios"
OPS = {"name": "ops", "trigger": {"interval_seconds": 600}, "steps": [{"kind": "run_recipe", "recipe": "stg_orders"}]}


def test_tokens_and_tenancy(api: Api) -> None:
    assert api.call("GET", BASE, token=None).status_code == 401
    assert api.call("GET", BASE, token="hft_unknown").status_code == 401
    assert api.call("GET", BASE, token="sales", project="acme-ops").status_code == 403
    assert api.call("GET", BASE, token="sales", project="acme-sales").status_code == 200
    assert api.call("GET", BASE, project="no-such-project").status_code == 404
    missing = api.call("GET", BASE, project=None)
    assert missing.status_code == 400 and "X-Project-Id" in missing.json()["detail"]

    ops_id = api.call("POST", BASE, project="acme-ops", json=OPS).json()["id"]
    for method, path, body in [
        ("GET", f"{BASE}/{ops_id}", None),
        ("PATCH", f"{BASE}/{ops_id}", {"enabled": False}),
        ("DELETE", f"{BASE}/{ops_id}", None),
        ("POST", f"{BASE}/{ops_id}/run", None),
    ]:
        response = api.call(method, path, token="sales", project="acme-sales", json=body)
        assert response.status_code in (404, 503), (method, path, response.text)
        if method != "POST":
            assert response.status_code == 404
    # Nothing changed through the other project's header.
    assert api.call("GET", f"{BASE}/{ops_id}", project="acme-ops").json()["enabled"] is True

    template = {"slug": "t", "display_name": "T", "trigger": {"cron": "0 2 * * *"}, "steps": [OPS["steps"][0]]}
    assert api.call("POST", "/api/scheduler/templates", token="sales", json=template).status_code == 403
    enable = "/api/scheduler/templates/nightly-mart-refresh/enable/acme-sales"
    assert api.call("POST", enable, token="sales").status_code == 403
    assert api.call("GET", "/api/scheduler/templates", token=None).status_code == 401
    assert api.call("GET", "/api/pipeline/scheduler/health", token=None, project=None).status_code == 503


def test_token_cli_prints_once_and_stores_a_hash(
    api: Api, store_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    assert honeyframe(["token", "create", "--name", "ci", "--project", "acme-ops"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("hft_") and len(token) > 40
    with Session(get_engine(store_url)) as session:
        stored = session.scalar(select(ApiTokenRow).where(ApiTokenRow.name == "ci"))
    assert stored is not None and token not in stored.token_hash and stored.projects == ["acme-ops"]
    assert api.call("GET", BASE, token=token, project="acme-ops").status_code == 200
    assert api.call("GET", BASE, token=token, project="acme-sales").status_code == 403
    assert honeyframe(["token", "create", "--name", "ci"]) == 1
    assert honeyframe(["token", "create", "--name", "x", "--project", "nope"]) == 1
