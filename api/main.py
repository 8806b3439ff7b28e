"""The Honeyframe Scheduler REST API: `uvicorn api.main:app`. This module only wires the parts together."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import FastAPI

from api import admin, docs, errors
from api.errors import log
from api.limits import SlidingWindow
from api.middleware import BodyLimitMiddleware, JsonBodyMiddleware, RequestIdMiddleware
from api.routes import backfills, calendars, health, projects, runs, scenarios, templates, triggers
from honeyframe_dagster.boot import open_store
from honeyframe_dagster.dagster_client import DagsterClient
from honeyframe_dagster.dbt import load_manifest, recipe_names
from honeyframe_dagster.factory.planner import Planner
from honeyframe_dagster.reconciler import Periodic, Reconciler
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.shards import location_count
from honeyframe_dagster.store.engine import POOL, describe_outage, store_unavailable

DESCRIPTION = """
The Scheduler's REST compatibility API. Scenarios live in the scenario store; each is a Dagster job with a
trigger (a schedule, or a sensor) in the code location that serves its project (`honeyframe`, or `honeyframe_<i>`
when the projects are split over shards); a write reloads that location only, and enable/disable only sets the
trigger's status.
Runs are read from Dagster.

Every endpoint but health needs `Authorization: Bearer TOKEN` (`honeyframe token create`); project endpoints
act on the project in `X-Project-Id`. Writes answer with `X-Honeyframe-Dagster-Sync: ok | failed | skipped`:
the store is written either way; `failed` means Dagster has not caught up yet (see the server log).
"""
# Worker threads for the sync routes and dependencies, per process (anyio's default is 40). The work is CPU-bound
# Python apart from short store reads: more threads than this only fight over the GIL, and starve the event loop
# (at 40, a loop iteration took seconds under 50 clients: p99 of seconds, and keep-alive timers closed
# connections that had a request waiting, which the client saw as a reset).
ROUTE_THREADS = 8
# Requests that may hold a store session at a time, and threads that only close sessions: see api.deps. No more
# slots than the connections the pool keeps (store/engine.py), so that no thread ever waits for one.
DB_SLOTS = POOL["pool_size"]
CLOSER_THREADS = 4


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    app.state.settings = settings
    # Per process (api/limits.py): requests per token, failed admin logins per client address.
    app.state.request_limits = SlidingWindow(settings.rate_limit_per_minute)
    app.state.login_limits = SlidingWindow(settings.admin_logins_per_minute)
    anyio.to_thread.current_default_thread_limiter().total_tokens = ROUTE_THREADS
    app.state.db_slots = anyio.CapacityLimiter(DB_SLOTS)
    app.state.closers = anyio.CapacityLimiter(CLOSER_THREADS)
    # `honeyframe up` migrates the store before it starts the workers, which then only check it (open_store); a
    # lone API process migrates a store that is behind. If that raises, the API does not start (a supervisor
    # restarts it), and the one log line says why. Once started, a store outage answers 503 and heals by itself.
    try:
        app.state.engine = open_store(settings)
    except Exception as exc:
        why = describe_outage(exc) if store_unavailable(exc) else str(exc)
        log.error("cannot start: %s", why)
        raise
    # The code servers' count, as `honeyframe up` stored it: a write reloads the location that serves its project.
    count = location_count(app.state.engine, settings.code_locations or 1)
    app.state.planner = Planner(recipe_names(load_manifest()), count, settings)
    app.state.dagster = DagsterClient(settings.dagster_webserver_url) if settings.dagster_webserver_url else None
    app.state.reconciler = Reconciler(app.state.dagster, app.state.engine, count) if app.state.dagster else None
    # The periodic pass that repairs drift between the store and Dagster's trigger statuses, both ways.
    periodic = None
    if app.state.reconciler is not None and settings.reconcile_seconds > 0:
        periodic = Periodic(app.state.reconciler, settings.reconcile_seconds)
        periodic.start()
    # What start-up built (Dagster's modules, the manifest, the models: ~300,000 objects) lives as long as the
    # process: out of every later collection. A full collection walked all of it, a pause of up to 0.2 s for every
    # request in flight, and collections took ~10% of the CPU under load.
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        if periodic is not None:
            periodic.stop()
        if app.state.dagster is not None:
            app.state.dagster.close()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Honeyframe Scheduler API",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local files by api.docs: /docs works without internet
        redoc_url=None,  # ReDoc would load from a CDN
    )
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(JsonBodyMiddleware)
    app.add_middleware(RequestIdMiddleware)
    errors.install(app)
    for module in (scenarios, runs, backfills, templates, calendars, triggers, projects, health):
        app.include_router(module.router)
    docs.install(app)
    admin.install(app)
    return app


app = create_app()
