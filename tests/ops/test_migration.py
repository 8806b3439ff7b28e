"""Legacy schedule tables → project scenarios on boot, on SQLite and Postgres."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from honeyframe_dagster.boot import boot
from honeyframe_dagster.legacy import migrate
from honeyframe_dagster.legacy.drift import SchemaDriftError
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.tables import ScenarioRow
from tests.ops.conftest import REPO_ROOT, LoadLegacy, run_sql_script

LEGACY = {"report_schedules", "pipeline_schedules", "project_cron_jobs"}
STEP_DEFAULTS = {"parallel": False, "transactional": True}


def report(dashboards: list[str], recipients: list[str], fmt: str, time_filter: str | None) -> dict[str, Any]:
    step = {"kind": "send_email_report", "dashboard_ids": dashboards, "recipients": recipients, "format": fmt}
    return {**STEP_DEFAULTS, **step, **({"time_filter": time_filter} if time_filter else {})}


# (source table, legacy id) → (project, name, enabled, owner, trigger, steps), written from legacy_rows.sql.
EXPECTED: dict[tuple[str, str], tuple[Any, ...]] = {
    ("report_schedules", "1"): (
        "acme-sales", "Weekly leadership digest", True, "ana@acme.example",
        {"cron": "0 8 * * 1", "timezone": "Asia/Jakarta"},
        [report(["revenue-overview", "pipeline-health"], ["ceo@acme.example", "cfo@acme.example"], "pdf", "last_week")],
    ),
    # NULL timezone meant UTC: kept explicit, or the project's own timezone would apply.
    ("report_schedules", "2"): (
        "acme-sales", "Daily revenue", True, "ana@acme.example", {"cron": "30 6 * * *", "timezone": "UTC"},
        [report(["revenue-overview"], ["sales-team@acme.example"], "html", None)],
    ),
    ("report_schedules", "3"): (
        "acme-ops", "Month-end close pack", False, "olaf@acme.example",
        {"cron": "0 7 1 * *", "timezone": "Europe/Berlin"},
        [report(["ops-kpis"], ["ops@acme.example", "finance@acme.example"], "pdf", "month_to_date")],
    ),
    ("pipeline_schedules", "1"): (
        "acme-sales", "pipeline mart_revenue", True, "ana@acme.example", {"cron": "0 2 * * *", "timezone": "UTC"},
        [{**STEP_DEFAULTS, "kind": "run_recipe", "recipe": "mart_revenue"}],
    ),
    ("pipeline_schedules", "2"): (
        "acme-ops", "pipeline stg_orders mart_ops_kpis", True, "olaf@acme.example",
        {"cron": "15 */4 * * *", "timezone": "America/New_York"},
        [{**STEP_DEFAULTS, "kind": "run_recipe", "recipes": ["stg_orders", "mart_ops_kpis"]}],
    ),
    ("pipeline_schedules", "3"): (
        "acme-ops", "pipeline mart_inventory", False, None, {"cron": "0 3 * * 0", "timezone": "UTC"},
        [{**STEP_DEFAULTS, "kind": "run_recipe", "recipe": "mart_inventory"}],
    ),
    # The per-project cron table always ran in UTC, whatever the project's timezone.
    ("project_cron_jobs", "1"): (
        "acme-sales", "sync_dataset orders", True, None, {"cron": "*/30 * * * *", "timezone": "UTC"},
        [{**STEP_DEFAULTS, "kind": "sync_dataset", "dataset": "orders"}],
    ),
    ("project_cron_jobs", "2"): (
        "acme-ops", "run_python score_inventory", True, None, {"cron": "0 5 * * *", "timezone": "UTC"},
        [{**STEP_DEFAULTS, "kind": "run_python", "recipe": "score_inventory", "args": {"horizon_days": 14},
          "secrets": []}],
    ),
    ("project_cron_jobs", "3"): (
        "acme-ops", "run_agent ticket-triage", False, None, {"cron": "0 6 * * 1-5", "timezone": "UTC"},
        [{**STEP_DEFAULTS, "kind": "run_agent", "agent": "ticket-triage", "input": "select * from stg_tickets",
          "output_table": "ticket_labels"}],
    ),
}  # fmt: skip


def migrated(engine: Engine) -> dict[tuple[str, str], tuple[Any, ...]]:
    with Session(engine) as session:
        rows = session.scalars(select(ScenarioRow).where(ScenarioRow.source_table.is_not(None))).all()
    assert all(row.template_slug is None for row in rows)
    return {
        (row.source_table, row.source_id): (row.project_id, row.name, row.enabled, row.owner, row.trigger, row.steps)
        for row in rows
        if row.source_table and row.source_id
    }


def legacy_tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return LEGACY & set(inspect(connection).get_table_names())


def scenario_count(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.scalars(select(ScenarioRow.id)).all())


def test_boot_migrates_every_row_field_by_field_drops_the_tables_and_never_duplicates(load_legacy: LoadLegacy) -> None:
    engine = load_legacy()
    before = scenario_count(engine)
    assert boot(get_settings()) is engine
    assert migrated(engine) == EXPECTED
    assert legacy_tables(engine) == set()
    # The same rows again (as if the drop had been lost): provenance finds them, nothing is added twice.
    load_legacy(projects=False)
    boot(get_settings())
    assert scenario_count(engine) == before + len(EXPECTED)
    assert migrated(engine) == EXPECTED
    assert legacy_tables(engine) == set()


BAD_ROWS = """;
INSERT INTO report_schedules (id, project_id, name, cron, timezone, dashboard_ids, recipients, format, time_filter,
  owner_email, enabled, created_at) VALUES
 (4, 'acme-sales', 'Broken cron', '0 8 * *', NULL, '[]', 'a@acme.example', 'pdf', NULL, 'ana@acme.example', TRUE,
  '2025-01-01 00:00:00'),
 (5, 'acme-sales', 'Bad recipient', '0 8 * * *', NULL, '[]', 'a@acme.example, not-an-address', 'pdf', NULL,
  'ana@acme.example', TRUE, '2025-01-01 00:00:00'),
 (6, 'acme-sales', 'Daily revenue', '0 9 * * *', 'Mars/Olympus', '[]', 'a@acme.example', 'pdf', NULL,
  'ana@acme.example', TRUE, '2025-01-01 00:00:00'),
 (7, 'acme-sales', 'Daily revenue', '0 9 * * *', 'Europe/Paris', '[]', 'a@acme.example', 'pdf', NULL,
  'ana@acme.example', TRUE, '2025-01-01 00:00:00');
INSERT INTO pipeline_schedules (id, project_id, recipe, cron_expression, cron_timezone, is_active, last_run_at,
  created_by) VALUES (4, 'ghost-project', 'mart_revenue', '0 2 * * *', 'UTC', TRUE, NULL, NULL);
INSERT INTO project_cron_jobs (id, project_id, schedule, action, target, options, enabled) VALUES
 (4, 'acme-ops', '0 5 * * *', 'send_fax', 'x', NULL, 1),
 (5, 'acme-ops', '0 5 * * *', 'run_python', 'score_inventory', '{"args": ', 1)
"""
BAD_REASONS = {
    ("report_schedules", "4"): "cron: invalid cron expression '0 8 * *'",
    ("report_schedules", "5"): "recipients: invalid e-mail address 'not-an-address'",
    ("report_schedules", "6"): "timezone: unknown timezone 'Mars/Olympus'",
    ("pipeline_schedules", "4"): "project_id: unknown project 'ghost-project'",
    ("project_cron_jobs", "4"): "action: unknown action 'send_fax'",
    ("project_cron_jobs", "5"): "options: not a JSON object",
}


def test_rows_that_cannot_migrate_are_reported_block_the_drop_and_the_rest_still_migrates(
    load_legacy: LoadLegacy,
) -> None:
    engine = load_legacy(BAD_ROWS)
    with pytest.raises(SchemaDriftError) as raised:
        boot(get_settings())
    failures = {(f.table, f.id): f.reason for f in raised.value.failures}
    assert set(failures) == set(BAD_REASONS)
    for key, reason in BAD_REASONS.items():
        assert failures[key].startswith(reason), failures[key]
        assert f"{key[0]} id {key[1]}: {reason}" in str(raised.value)
    assert legacy_tables(engine) == LEGACY
    good = migrated(engine)
    assert {key: good[key] for key in EXPECTED} == EXPECTED
    # A second legacy row named like an existing scenario is kept, told apart by its source.
    assert good[("report_schedules", "7")][1] == "Daily revenue (report_schedules 7)"
    assert len(good) == len(EXPECTED) + 1

    # The operator fixes two rows and deletes the rest; the next boot migrates them and drops the tables.
    with engine.begin() as connection:
        connection.execute(text("UPDATE report_schedules SET cron = '0 8 * * 1-5' WHERE id = 4"))
        connection.execute(text("UPDATE project_cron_jobs SET options = NULL WHERE id = 5"))
        connection.execute(text("DELETE FROM report_schedules WHERE id IN (5, 6)"))
        connection.execute(text("DELETE FROM pipeline_schedules WHERE id = 4"))
        connection.execute(text("DELETE FROM project_cron_jobs WHERE id = 4"))
    boot(get_settings())
    assert legacy_tables(engine) == set()
    final = migrated(engine)
    assert len(final) == len(EXPECTED) + 3
    assert final[("report_schedules", "4")][4] == {"cron": "0 8 * * 1-5", "timezone": "UTC"}
    assert final[("project_cron_jobs", "5")][1] == "run_python score_inventory (project_cron_jobs 5)"


def test_a_crash_half_way_leaves_a_state_the_next_boot_completes(
    load_legacy: LoadLegacy, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = load_legacy()
    real = migrate.to_scenario
    calls = iter(range(100))

    def crash_after_four(*args: Any, **kwargs: Any) -> Any:
        if next(calls) == 4:
            raise RuntimeError("injected crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(migrate, "to_scenario", crash_after_four)
    with pytest.raises(RuntimeError, match="injected crash"):
        boot(get_settings())
    assert migrated(engine) == {}
    assert legacy_tables(engine) == LEGACY

    monkeypatch.setattr(migrate, "to_scenario", real)
    boot(get_settings())
    assert migrated(engine) == EXPECTED
    assert legacy_tables(engine) == set()


def test_the_drop_script_removes_the_legacy_tables_by_hand(load_legacy: LoadLegacy) -> None:
    engine = load_legacy(projects=False)
    script = (REPO_ROOT / "scripts" / "migrations" / "drop_pipeline_schedules.sql").read_text()
    run_sql_script(engine, script)
    run_sql_script(engine, script)  # idempotent
    assert legacy_tables(engine) == set()
    boot(get_settings())
