-- Drops the legacy schedule tables of installs before the Scheduler (SQLite and PostgreSQL).
-- Boot migrates their rows and drops them itself; run this by hand only when boot reported rows it could
-- not migrate and you have decided nothing in them is needed (see docs/operations.md). Safe to re-run.
--   SQLite:   sqlite3 .honeyframe/scheduler.db < scripts/migrations/drop_pipeline_schedules.sql
--   Postgres: psql "$DATABASE_URL" -f scripts/migrations/drop_pipeline_schedules.sql
BEGIN;
DROP TABLE IF EXISTS report_schedules;
DROP TABLE IF EXISTS pipeline_schedules;
DROP TABLE IF EXISTS project_cron_jobs;
COMMIT;
