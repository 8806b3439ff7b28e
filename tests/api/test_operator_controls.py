"""Issue 20 through the REST API (no Dagster webserver): calendars and their scopes, the trigger preview, pause notes,
pausing a project, and the validation of backfills and run-now parameter overrides."""

from __future__ import annotations

import re
from typing import Any

from dagster._core.test_utils import freeze_time

from tests.api.conftest import Api
from tests.test_scheduling_contract import at

BASE = "/api/scheduler/scenarios"
CALENDARS = "/api/scheduler/calendars"
PREVIEW = "/api/scheduler/triggers/preview"
STEPS = [{"kind": "run_recipe", "recipe": "stg_orders"}]
NOW = at("2026-12-21T12:00:00Z")
BERLIN = {"id": "de-holidays", "holidays": {"country": "DE", "subdivision": "BE"}}


def scenario(api: Api, name: str, trigger: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    with freeze_time(NOW):
        response = api.call("POST", BASE, json={"name": name, "trigger": trigger, "steps": STEPS}, **kwargs)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_calendars_scopes_validation_and_deletion(api: Api) -> None:
    # Org-wide: an admin's; a project token may create its project's own, not another's, not the org's.
    assert api.call("POST", CALENDARS, json=BERLIN).status_code == 201
    assert api.call("POST", CALENDARS, json=BERLIN).status_code == 409
    assert api.call("POST", CALENDARS, token="sales", json={"id": "mine"}).status_code == 403
    other = {"id": "ops-days", "project": "acme-ops", "business_days": True}
    assert api.call("POST", CALENDARS, token="sales", json=other).status_code == 403
    own = {"id": "sales-days", "project": "acme-sales", "business_days": True, "exclude": ["2026-12-24"]}
    created = api.call("POST", CALENDARS, token="sales", json=own)
    assert created.status_code == 201, created.text
    assert created.json()["exclude"] == ["2026-12-24"] and created.json()["project"] == "acme-sales"
    assert api.call("POST", CALENDARS, json=other).status_code == 201
    listed = api.call("GET", CALENDARS, token="sales").json()["items"]
    assert [(c["project"], c["id"]) for c in listed] == [(None, "de-holidays"), ("acme-sales", "sales-days")]
    assert api.call("GET", f"{CALENDARS}/sales-days", token="sales", project=None).status_code == 404  # not the org's
    assert api.call("GET", f"{CALENDARS}/sales-days", token="sales", project="acme-sales").status_code == 200
    assert api.call("GET", f"{CALENDARS}/ops-days", token="sales", project="acme-ops").status_code == 403
    # An unknown country or subdivision is refused naming the field.
    for holidays, field in (({"country": "XX"}, "country"), ({"country": "DE", "subdivision": "ZZ"}, "subdivision")):
        refused = api.call("POST", CALENDARS, json={"id": "bad", "holidays": holidays})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "holidays", field], refused.text
    assert api.call("PUT", f"{CALENDARS}/other", json=BERLIN).json()["detail"][0]["loc"] == ["body", "id"]
    # A trigger naming an unknown calendar: 422 naming trigger.calendar; a calendar in use cannot be deleted.
    with freeze_time(NOW):
        unknown = api.call(
            "POST", BASE, json={"name": "x", "trigger": {"cron": "0 6 * * *", "calendar": "nope"}, "steps": STEPS}
        )
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "trigger", "calendar"]
    used = scenario(api, "morning", {"cron": "0 6 * * *", "calendar": "sales-days"})
    refused = api.call("DELETE", f"{CALENDARS}/sales-days", token="sales", project="acme-sales")
    assert refused.status_code == 409 and "'morning' of project 'acme-sales'" in refused.json()["detail"]
    # The project's own calendar shadows the org's of the same id; the org's is deletable when none uses it.
    assert api.call("DELETE", f"{CALENDARS}/de-holidays", token="sales", project=None).status_code == 403
    assert api.call("DELETE", f"{CALENDARS}/de-holidays", project=None).status_code == 204
    assert api.call("DELETE", f"{BASE}/{used['id']}").status_code == 204
    assert api.call("DELETE", f"{CALENDARS}/sales-days", token="sales", project="acme-sales").status_code == 204


def test_a_calendar_edit_recompiles_its_scenarios_and_next_run_at_skips_excluded_dates(api: Api) -> None:
    assert api.call("POST", CALENDARS, json=BERLIN).status_code == 201
    morning = scenario(api, "morning", {"cron": "0 6 * * *", "calendar": "de-holidays"})  # Europe/Berlin
    with freeze_time(at("2026-12-24T06:00:00Z")):
        shown = api.call("GET", f"{BASE}/{morning['id']}").json()
        assert shown["next_run_at"] == "2026-12-27T05:00:00Z"
        edited = api.call("PUT", f"{CALENDARS}/de-holidays", json={**BERLIN, "include": ["2026-12-26"]})
        assert edited.status_code == 200, edited.text
        shown = api.call("GET", f"{BASE}/{morning['id']}").json()
    assert shown["next_run_at"] == "2026-12-26T05:00:00Z" and shown["version"] == morning["version"] + 1
    versions = api.call("GET", f"{BASE}/{morning['id']}/versions").json()["items"]
    assert versions[0]["changes"] == ["calendar.include"] and versions[0]["created_by"] == "admin"


def test_preview_shows_instants_with_the_projects_timezone_and_calendars_and_writes_nothing(api: Api) -> None:
    assert api.call("POST", CALENDARS, json=BERLIN).status_code == 201
    before = api.call("GET", BASE).json()["total"]
    body = {"trigger": {"cron": "0 6 * * *", "calendar": "de-holidays"}, "count": 4, "after": "2026-12-24T06:00:00Z"}
    shown = api.call("POST", PREVIEW, json=body)
    assert shown.status_code == 200, shown.text
    assert shown.json() == {
        "instants": ["2026-12-27T05:00:00Z", "2026-12-28T05:00:00Z", "2026-12-29T05:00:00Z", "2026-12-30T05:00:00Z"],
        "timezone": "Europe/Berlin",
    }
    with freeze_time(NOW):
        default = api.call("POST", PREVIEW, json={"trigger": {"interval_seconds": 3600, "timezone": "UTC"}}).json()
    assert len(default["instants"]) == 10 and default["instants"][0] == "2026-12-21T13:00:00Z"
    assert default["timezone"] == "UTC"
    # An invalid trigger is refused exactly as a scenario write refuses it.
    for trigger, field in (
        ({"cron": "0 25 * * *"}, "cron"),
        ({"cron": "0 6 * * *", "calendar": "nope"}, "calendar"),
        ({"interval_seconds": 10}, "interval_seconds"),
        ({"upstream": {"scenario": "x"}, "calendar": "de-holidays"}, "calendar"),
    ):
        previewed = api.call("POST", PREVIEW, json={"trigger": trigger})
        with freeze_time(NOW):
            written = api.call("POST", BASE, json={"name": "p", "trigger": trigger, "steps": STEPS})
        assert previewed.status_code == written.status_code == 422, (trigger, previewed.text)
        assert previewed.json()["detail"][0]["loc"] == ["body", "trigger", field]
        assert previewed.json()["detail"][0]["loc"] == written.json()["detail"][0]["loc"]
        assert previewed.json()["detail"][0]["msg"] == written.json()["detail"][0]["msg"]
    assert api.call("POST", PREVIEW, json={"trigger": {"cron": "0 6 * * *"}, "count": 101}).status_code == 422
    assert api.call("GET", BASE).json()["total"] == before


def test_a_pause_says_why_who_and_when_and_enabling_clears_it(api: Api, apply_yaml: Any) -> None:
    nightly = scenario(api, "nightly", {"cron": "0 2 * * *"})
    path = f"{BASE}/{nightly['id']}"
    note = {"enabled": False, "pause_note": "source system migration until Friday"}
    with freeze_time(NOW):
        paused = api.call("PATCH", path, token="sales", json=note).json()
    assert paused["enabled"] is False and paused["pause_note"] == note["pause_note"]
    assert paused["paused_by"] == "sales" and paused["paused_at"] == "2026-12-21T12:00:00Z"
    refused = api.call("PATCH", path, json={"enabled": True, "pause_note": "x"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "pause_note"]
    enabled = api.call("PATCH", path, json={"enabled": True}).json()
    assert (enabled["pause_note"], enabled["paused_by"], enabled["paused_at"]) == (None, None, None)
    # `honeyframe apply` pausing it says so.
    document = "kind: Scenario\nproject: acme-sales\nname: nightly\nenabled: false\ntrigger: {cron: '0 2 * * *'}\n"
    assert apply_yaml(document + "steps: [{kind: run_recipe, recipe: stg_orders}]\n") == 0
    shown = api.call("GET", path).json()
    assert shown["paused_by"] == "apply" and shown["pause_note"] is None and shown["enabled"] is False


def test_pausing_a_project_stops_every_trigger_without_touching_enabled_and_resume_brings_back_the_enabled(
    api: Api,
) -> None:
    on = scenario(api, "on", {"cron": "0 2 * * *"})
    off = scenario(api, "off", {"cron": "0 3 * * *"})
    assert api.call("PATCH", f"{BASE}/{off['id']}", json={"enabled": False}).status_code == 200
    assert (
        api.call(
            "POST", "/api/scheduler/projects/acme-sales/pause", token="sales", project=None, json={"note": "x"}
        ).status_code
        == 200
    )
    assert api.call("POST", "/api/scheduler/projects/acme-ops/pause", token="sales", project=None).status_code == 403
    with freeze_time(NOW):
        project = api.call("POST", "/api/scheduler/projects/acme-sales/pause", json={"note": "migration weekend"})
    assert project.status_code == 200, project.text
    shown = project.json()
    assert shown["pause_note"] == "migration weekend" and shown["paused_by"] == "sales"  # paused first by sales
    items = {s["name"]: s for s in api.call("GET", BASE).json()["items"]}
    assert [(items[n]["enabled"], items[n]["paused"], items[n]["next_run_at"]) for n in ("on", "off")] == [
        (True, True, None),
        (False, True, None),
    ]
    resumed = api.call("POST", "/api/scheduler/projects/acme-sales/resume", token="sales", project=None)
    assert resumed.status_code == 200 and resumed.json()["paused_at"] is None and resumed.json()["pause_note"] is None
    items = {s["name"]: s for s in api.call("GET", BASE).json()["items"]}
    assert items["on"]["paused"] is False and items["on"]["next_run_at"] is not None
    assert items["off"]["next_run_at"] is None and items["off"]["enabled"] is False
    assert on["id"] != off["id"]


def test_backfill_and_override_requests_are_checked_before_dagster_is_asked(api: Api) -> None:
    hourly = scenario(api, "hourly", {"interval_seconds": 3600})
    upstream = scenario(api, "after", {"upstream": {"scenario": "hourly"}})
    path = f"{BASE}/{hourly['id']}/backfill"
    with freeze_time(NOW):
        too_many = api.call("POST", path, json={"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"})
        backwards = api.call("POST", path, json={"from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"})
        not_timed = api.call(
            "POST",
            f"{BASE}/{upstream['id']}/backfill",
            json={"from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"},
        )
        ok_range = api.call("POST", path, json={"from": "2026-12-01T00:00:00Z", "to": "2026-12-01T05:00:00Z"})
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == ["body", "to"]
    assert "more than 500 instants" in too_many.json()["detail"][0]["msg"]
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["body", "to"]
    assert not_timed.status_code == 422 and "upstream" in not_timed.json()["detail"][0]["msg"]
    assert ok_range.status_code == 503  # valid, but no Dagster webserver is configured: nothing recorded
    assert api.call("GET", f"{BASE}/{hourly['id']}/backfills").json() == {"items": []}
    # Overrides: a template instance only, each value checked as the matrix checks it.
    own = api.call("POST", f"{BASE}/{hourly['id']}/run", json={"parameters": {"mart_recipe": "mart_revenue"}})
    assert own.status_code == 422 and own.json()["detail"][0]["loc"] == ["body", "parameters"]
    cell = api.call(
        "POST",
        "/api/scheduler/templates/nightly-mart-refresh/enable/acme-sales",
        json={"parameters": {"mart_recipe": "mart_revenue"}},
    )
    assert cell.status_code == 200, cell.text
    run = f"{BASE}/{cell.json()['id']}/run"
    unknown = api.call("POST", run, json={"parameters": {"colour": "red"}})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "parameters", "colour"]
    invalid = api.call("POST", run, json={"parameters": {"mart_recipe": "no_such_recipe"}})
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "parameters", "mart_recipe"]
    assert api.call("POST", run, json={"parameters": {"mart_recipe": "stg_orders"}}).status_code == 503
    stored = api.call("GET", f"{BASE}/{cell.json()['id']}").json()
    assert stored["version"] == cell.json()["version"]  # an override is never stored


def test_the_admin_pages_show_the_next_five_instants_pause_notes_and_a_paused_project(api: Api) -> None:
    from tests.api.test_admin import log_in

    assert api.call("POST", CALENDARS, json=BERLIN).status_code == 201
    scenario(api, "morning", {"cron": "0 6 * * *", "calendar": "de-holidays"})
    off = scenario(api, "resting", {"cron": "0 7 * * *"})
    with freeze_time(NOW):
        api.call("PATCH", f"{BASE}/{off['id']}", json={"enabled": False, "pause_note": "vendor outage"})
        api.call("POST", "/api/scheduler/projects/acme-ops/pause", project=None, json={"note": "migration weekend"})
    with freeze_time(at("2026-12-23T12:00:00Z")):
        assert log_in(api, "admin").status_code == 303
        page = api.client.get("/admin/projects/acme-sales/schedules").text
        matrix = api.client.get("/admin/templates").text
    # Dec 24, then 27, 28, 29, 30 at 06:00 in Berlin: the holidays skipped.
    upcoming = re.search(r"<details data-role=\"upcoming\">.*?</details>", page, re.S)
    assert upcoming is not None and "2026-12-24 05:00" in upcoming.group(0) and "2026-12-30 05:00" in upcoming.group(0)
    assert "2026-12-25" not in upcoming.group(0) and "2026-12-26" not in upcoming.group(0)
    assert "paused by admin" in page and "vendor outage" in page
    assert 'data-role="upcoming"' in matrix  # the enable form shows the next runs before saving
    with freeze_time(at("2026-12-23T12:00:00Z")):
        ops = api.client.get("/admin/projects/acme-ops/schedules").text
    assert 'data-role="project-paused"' in ops and "migration weekend" in ops
