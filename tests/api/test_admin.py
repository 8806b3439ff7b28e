"""The admin pages without a browser: login and logout, scopes, CSRF, escaping, the operations tile, triggers in words.

The browser tests (test_admin_browser.py) drive the same pages in Chromium against a real Dagster.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.admin.words import cron_in_words, interval_in_words, trigger_in_words
from honeyframe_dagster.model.triggers import Trigger
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ScenarioRow, ScenarioVersionRow, SchedulerWorkerRow
from tests.api.conftest import SEED_YAML, Api, free_port, make_tokens

MATRIX = "/admin/templates"
CELL = "/admin/templates/nightly-mart-refresh/acme-sales"


def log_in(api: Api, token: str) -> httpx.Response:
    form = api.client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return api.client.post(
        "/admin/login", data={"token": api.tokens.get(token, token), "csrf": csrf.group(1)}, follow_redirects=False
    )


def page_csrf(api: Api, path: str = MATRIX) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', api.client.get(path).text)
    assert found is not None
    return found.group(1)


def test_login_sets_a_strict_httponly_cookie_and_logout_clears_it(api: Api) -> None:
    first = api.client.get(MATRIX, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/admin/login?next=%2Fadmin%2Ftemplates"

    wrong = log_in(api, "hft_not-a-token")
    assert wrong.status_code == 401 and "unknown, expired or revoked" in wrong.text
    assert "hft_not-a-token" not in wrong.text

    answer = log_in(api, "admin")
    assert answer.status_code == 303 and answer.headers["location"] == MATRIX
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("hf_admin_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie

    page = api.client.get(MATRIX)
    assert page.status_code == 200 and "Nightly mart refresh" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"] and page.headers["X-Frame-Options"] == "DENY"
    assert api.tokens["admin"] not in page.text  # the page carries a CSRF token derived from it, never the token

    refused = api.client.post("/admin/logout", data={"csrf": "guess"}, follow_redirects=False)
    assert refused.status_code == 403 and api.client.get(MATRIX, follow_redirects=False).status_code == 200
    out = api.client.post("/admin/logout", data={"csrf": page_csrf(api)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/admin/login"
    assert api.client.get(MATRIX, follow_redirects=False).status_code == 303


def test_login_refuses_a_form_from_another_site_and_foreign_redirects(api: Api) -> None:
    # No login-CSRF cookie (a cross-site form cannot have it, nor read the form's value): refused.
    forged = api.client.post("/admin/login", data={"token": api.tokens["admin"], "csrf": "x"}, follow_redirects=False)
    assert forged.status_code == 403 and "hf_admin_session" not in forged.headers.get("set-cookie", "")
    form = api.client.get("/admin/login", params={"next": "//evil.example/admin/"})
    assert "evil.example" not in form.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    data = {"token": api.tokens["admin"], "csrf": csrf.group(1), "next": "//evil.example/x"}
    answer = api.client.post("/admin/login", data=data, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == MATRIX


def test_matrix_is_for_admins_and_schedules_for_the_tokens_projects(api: Api) -> None:
    assert log_in(api, "sales").headers["location"] == "/admin/projects/acme-sales/schedules"
    denied = api.client.get(MATRIX)
    assert denied.status_code == 403 and "not an admin token" in denied.text
    assert api.client.get("/admin/projects/acme-sales/schedules").status_code == 200
    other = api.client.get("/admin/projects/acme-ops/schedules")
    assert other.status_code == 403 and "may not act on project &#39;acme-ops&#39;" in other.text
    # An unknown project is a 403 too for a project token: it learns nothing about which projects exist.
    assert api.client.get("/admin/projects/nope/schedules").status_code == 403
    csrf = page_csrf(api, "/admin/projects/acme-sales/schedules")
    toggled = api.client.post(f"{CELL}/enable", headers={"X-CSRF-Token": csrf}, json={"parameters": {}})
    assert toggled.status_code == 403

    log_in(api, "admin")
    assert api.client.get("/admin/projects/nope/schedules").status_code == 404
    assert api.client.get("/admin/projects/acme-ops/schedules").status_code == 200


def cell_row(store_url: str) -> ScenarioRow | None:
    with Session(get_engine(store_url)) as session:
        return session.scalar(
            select(ScenarioRow).where(
                ScenarioRow.project_id == "acme-sales", ScenarioRow.template_slug == "nightly-mart-refresh"
            )
        )


def test_toggles_need_the_csrf_header(api: Api, store_url: str) -> None:
    log_in(api, "admin")
    body = {"parameters": {"mart_recipe": "stg_orders"}}
    for headers in ({}, {"X-CSRF-Token": "0" * 64}):
        refused = api.client.post(f"{CELL}/enable", headers=headers, json=body)
        assert refused.status_code == 403 and "CSRF" in refused.text
    # What a cross-site <form> could send: the cookie (were it not SameSite) and form fields, but no header.
    forged = api.client.post(f"{CELL}/enable", data={"csrf": "x", "mart_recipe": "stg_orders"})
    assert forged.status_code == 403
    assert cell_row(store_url) is None

    csrf = page_csrf(api)
    missing = api.client.post(f"{CELL}/enable", headers={"X-CSRF-Token": csrf}, json={"parameters": {}})
    assert missing.status_code == 422 and missing.headers["X-Honeyframe-Fragment"] == "cell"
    assert "mart_recipe" in missing.text and "has no value and no default" in missing.text
    assert cell_row(store_url) is None  # nothing half-written

    enabled = api.client.post(f"{CELL}/enable", headers={"X-CSRF-Token": csrf}, json=body)
    assert enabled.status_code == 200 and 'data-role="state">Enabled<' in enabled.text and "stg_orders" in enabled.text
    row = cell_row(store_url)
    assert row is not None and row.enabled and row.parameters == {"mart_recipe": "stg_orders"}
    disabled = api.client.post(f"{CELL}/disable", headers={"X-CSRF-Token": csrf})
    assert disabled.status_code == 200 and 'data-role="state">Disabled<' in disabled.text
    row = cell_row(store_url)
    assert row is not None and not row.enabled
    assert api.client.post(f"{CELL}/explode", headers={"X-CSRF-Token": csrf}).status_code == 404


def test_hostile_names_are_escaped(api: Api) -> None:
    hostile = "<script>alert(1)</script>"
    body = {
        "name": hostile,
        "trigger": {"cron": "0 3 * * *"},
        "steps": [{"kind": "run_recipe", "recipe": "stg_orders"}],
    }
    assert api.call("POST", "/api/scheduler/scenarios", json=body).status_code == 201
    project = {"id": "evil", "name": '<img src=x onerror="alert(2)">', "owner_email": "e@acme.example"}
    assert api.call("POST", "/api/scheduler/projects", json=project).status_code == 201
    log_in(api, "admin")
    for path in ("/admin/projects/acme-sales/schedules", MATRIX, "/admin/projects/evil/schedules"):
        page = api.client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in api.client.get("/admin/projects/acme-sales/schedules").text
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in api.client.get(MATRIX).text


def beat(store_url: str, age_seconds: float | None) -> None:
    with Session(get_engine(store_url)) as session, session.begin():
        session.execute(delete(SchedulerWorkerRow))
        if age_seconds is not None:
            seen = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_seconds)
            session.add(SchedulerWorkerRow(worker_id="w", last_seen_at=seen))


@pytest.mark.parametrize(
    ("age", "status", "code"), [(None, "red", 503), (5, "green", 200), (75, "amber", 200), (120, "red", 503)]
)
def test_heartbeat_colours_health_and_the_operations_tile(
    api: Api, store_url: str, age: float | None, status: str, code: int
) -> None:
    beat(store_url, age)
    health = api.call("GET", "/api/pipeline/scheduler/health", token=None, project=None)
    assert health.status_code == code and health.json()["status"] == status
    assert health.json()["alive"] is (code == 200)
    log_in(api, "sales")
    page = api.client.get("/admin/projects/acme-sales/schedules").text
    assert f'id="operations-tile" data-status="{status}"' in page


def test_schedules_page_shows_triggers_in_words_errors_and_dagster_links(api: Api, store_url: str) -> None:
    for name, trigger in (
        ("nightly", {"cron": "0 2 * * *"}),
        ("quarterly", {"interval_seconds": 900}),
        ("after nightly", {"upstream": {"scenario": "nightly"}}),
    ):
        body = {"name": name, "trigger": trigger, "steps": [{"kind": "run_recipe", "recipe": "stg_orders"}]}
        assert api.call("POST", "/api/scheduler/scenarios", json=body).status_code == 201
    # A scenario that cannot build any more (its recipe vanished from the dbt project since it was stored).
    with Session(get_engine(store_url)) as session, session.begin():
        row = session.scalar(select(ScenarioRow).where(ScenarioRow.name == "nightly"))
        assert row is not None
        version = session.get(ScenarioVersionRow, (row.id, row.version))
        assert version is not None
        version.spec = {**version.spec, "steps": [{"kind": "run_recipe", "recipe": "gone_recipe"}]}
        version.spec_hash = "0" * 64
    log_in(api, "sales")
    page = api.client.get("/admin/projects/acme-sales/schedules").text
    assert "02:00 every day, Europe/Berlin" in page and "every 15 minutes" in page
    assert "on success of nightly" in page
    panels = re.findall(r'data-role="build-error">(.*?)</div>', page, re.S)
    assert len(panels) == 2  # the broken scenario, and the one that fires on its success
    assert any("gone_recipe" in panel for panel in panels)
    assert "is broken" in " ".join(panels)
    # No Dagster configured for this app: no links into its UI, no trigger status, no runs.
    assert "/locations/" not in page and "none yet" in page


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 2 * * *", "02:00 every day"),
        ("30 6 * * 1-5", "06:30 on Monday to Friday"),
        ("0 8 * * 1", "08:00 on Mondays"),
        ("0 8 * * 1,3", "08:00 on Mondays and Wednesdays"),
        ("15 9,17 * * *", "09:15 and 17:15 every day"),
        ("0 7 1 * *", "07:00 on the 1st of every month"),
        ("*/15 * * * *", "every 15 minutes"),
        ("* * * * *", "every minute"),
        ("5 * * * *", "every hour at :05"),
        ("0 */6 * * *", "every 6 hours at :00"),
        ("0 0 1 1 *", "cron '0 0 1 1 *'"),
        ("0 9 1 * 1", "cron '0 9 1 * 1'"),
        ("1-5/2 3 * * *", "cron '1-5/2 3 * * *'"),
    ],
)
def test_cron_in_words(cron: str, words: str) -> None:
    assert cron_in_words(cron) == words


def test_triggers_in_words() -> None:
    assert trigger_in_words(Trigger(cron="0 2 * * *"), "Europe/Berlin") == "02:00 every day, Europe/Berlin"
    assert trigger_in_words(Trigger(interval_seconds=900), "UTC") == "every 15 minutes"
    assert trigger_in_words(Trigger(upstream={"scenario": "X"}), "UTC") == "on success of X"
    once = Trigger(run_at="2030-12-24T17:00:00Z")
    assert trigger_in_words(once, "Europe/Berlin") == "once, 2030-12-24 18:00, Europe/Berlin"
    assert [interval_in_words(s) for s in (60, 3600, 7200, 86400, 90)] == [
        "every minute",
        "every hour",
        "every 2 hours",
        "every day",
        "every 90 seconds",
    ]


def test_pages_render_while_dagster_is_down(store_url: str, apply_yaml: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.main import create_app

    assert apply_yaml(SEED_YAML) == 0
    tokens = make_tokens(get_settings())
    # A webserver that does not answer, and no Dagster instance to read runs from.
    monkeypatch.setenv("HONEYFRAME_DAGSTER_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        api = Api(client, tokens)
        log_in(api, "admin")
        body = {"parameters": {"mart_recipe": "stg_orders"}}
        toggled = client.post(f"{CELL}/enable", headers={"X-CSRF-Token": page_csrf(api)}, json=body)
        assert toggled.status_code == 200 and "Dagster has not caught up yet" in toggled.text
        assert 'data-role="trigger-status"' in toggled.text and "UNKNOWN" in toggled.text
        matrix = client.get(MATRIX)
        assert matrix.status_code == 200 and "UNKNOWN" in matrix.text
        schedules = client.get("/admin/projects/acme-sales/schedules")
        assert schedules.status_code == 200 and "run-unknown" in schedules.text


def test_a_broken_template_is_that_templates_error_on_the_matrix_not_a_500(api: Api, store_url: str) -> None:
    """A template row that no longer validates (a hand edit, an older release): the matrix lists it with its error;
    the other templates and their cells show as usual."""
    from sqlalchemy import text

    with get_engine(store_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO templates (slug, display_name, default_enabled, document, version, created_at, "
                "updated_at) VALUES ('broken', 'Broken one', false, :d, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"d": '{"slug": "broken", "display_name": "Broken one", "trigger": {"cron": "61 * * * *"}, "steps": []}'},
        )
    log_in(api, "admin")
    page = api.client.get("/admin/templates")
    assert page.status_code == 200, page.text
    (error,) = re.findall(r'data-role="template-error">(.*?)</div>', page.text, re.S)
    assert "stored template &#39;broken&#39; is invalid" in error and "cron" in error
    assert 'id="cell-nightly-mart-refresh--acme-sales"' in page.text
