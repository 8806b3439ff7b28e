"""The Dagster run tags Honeyframe sets: the factory writes them, ops, sensors, the API and the CLI read them.

Dagster's UI shows every run tag on each run's row, except those under its hidden prefix. Tags that only the
machinery reads (the queue's serial key, the version a run does, the run_if guard) live there; what a person looks
for on a run (scenario and project ids, template, instant, entity, backfill, parameters, a missed SLA) stays shown.
"""

from __future__ import annotations

# Dagster's HIDDEN_TAG_PREFIX (dagster/_core/storage/tags.py): the GraphQL API, and so the UI, leaves these tags
# out of a run's tags. Written out so that reading a tag imports no Dagster (the CLI's `list`).
HIDDEN_TAG_PREFIX = ".dagster/"
SCENARIO_TAG = "honeyframe/scenario_id"
PROJECT_TAG = "honeyframe/project_id"
TEMPLATE_TAG = "honeyframe/template"
# The trigger instant a run is for (every run a schedule or time sensor makes; factory/triggers.py).
SCHEDULED_FOR_TAG = "honeyframe/scheduled_for"
# The scenario version a run does (store/versions.py): its config is in the run's config, its job is that version's.
# Hidden: each step logs its version with its config.
VERSION_TAG = f"{HIDDEN_TAG_PREFIX}honeyframe_version"
# The backfill a run belongs to (POST .../scenarios/{id}/backfill).
BACKFILL_TAG = "honeyframe/backfill"
# A run now's parameter overrides (JSON), which its run config renders and nothing stores.
PARAMETERS_TAG = "honeyframe/parameters"
# The `expand_from` row a run is for: the value of its key column (factory/expansion.py).
ENTITY_TAG = "honeyframe/entity"
# Set on a run whose instant missed its scenario's `sla` (factory/sla.py).
SLA_MISSED_TAG = "honeyframe/sla_missed"
