"""Dependencies: the store session, the caller's token, the current project, Dagster.

Threads and pooled connections: FastAPI runs every sync dependency and route, and the validation of a sync route's
response, in a worker thread of anyio's limiter (sized in api.main). A request that holds a pooled connection may
wait for such a thread between two of these steps; had threads waited for a connection, requests holding every
connection would have waited for threads that all waited for a connection (30 s, then 503). So a request first
takes one of `app.state.db_slots` (fewer than the pool's connections), waiting on the event loop, not in a thread,
and a thread never waits for a connection. The session is closed (its connection handed back) right after the
response is serialized, before it is sent, by threads of their own (`app.state.closers`; SQLite's on the loop).

A write never waits on Dagster holding a slot or a connection: it commits, then gives both back for as long as
Dagster is asked to follow it (`store_released`: reloads, trigger status changes, run launches), and takes a slot
again for what it answers. So a slow Dagster slows the writes that wait on it, not the store's other requests. Where
an answer shows what Dagster says (trigger statuses, last runs), the store is read first and the connection handed
back before Dagster is read (`end_reads`); the slot stays held for those reads.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import event
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import Session, SessionTransaction

from api.limits import SlidingWindow
from honeyframe_dagster.dagster_client import DagsterClient
from honeyframe_dagster.factory.planner import Planner, ProjectPlan
from honeyframe_dagster.model.identifiers import PROJECT_ID_PATTERN
from honeyframe_dagster.reconciler import Reconciler
from honeyframe_dagster.store import service
from honeyframe_dagster.store.tables import ProjectRow
from honeyframe_dagster.store.versions import set_actor
from honeyframe_dagster.tokens import TokenGrant, TokenRejected, verify_token

# How long a request waits for a slot before it answers 503 (SQLAlchemy's pool_timeout, which it replaces).
SLOT_TIMEOUT_SECONDS = 30.0
_bearer = HTTPBearer(auto_error=False, description="A token from `honeyframe token create`.")


class StoreSlot:
    """A request's hold on one of `app.state.db_slots`, which it may give back and take again (from its worker
    thread: `store_released`); the slot is borrowed on behalf of this object, not of a task."""

    def __init__(self, slots: anyio.CapacityLimiter) -> None:
        self.slots = slots
        self.held = False

    async def take(self) -> None:
        """Wait on the event loop for a slot; 503 (as an exhausted pool answered) after SLOT_TIMEOUT_SECONDS."""
        try:
            with anyio.fail_after(SLOT_TIMEOUT_SECONDS):
                await self.slots.acquire_on_behalf_of(self)
        except TimeoutError:
            # Every slot held that long (a store that hangs): 503, as the pool answered.
            raise SQLAlchemyTimeoutError(f"no store session came free within {SLOT_TIMEOUT_SECONDS} s") from None
        self.held = True

    def give_back(self) -> None:
        """On the event loop."""
        if self.held:
            self.held = False
            self.slots.release_on_behalf_of(self)


_SLOT = "honeyframe_store_slot"


async def get_session(request: Request) -> AsyncIterator[Session]:
    state = request.app.state
    slot = StoreSlot(state.db_slots)
    await slot.take()
    try:
        session = Session(state.engine)  # no I/O until it is used
        session.info[_SLOT] = slot
        try:
            yield session
        finally:
            if session.in_transaction() and state.engine.dialect.name != "sqlite":
                # Closing rolls back over the network: in a closer thread, never behind busy route threads.
                await anyio.to_thread.run_sync(session.close, limiter=state.closers)
            else:
                session.close()  # nothing to hand back, or SQLite's rollback: a few microseconds in this process
    finally:
        slot.give_back()


@event.listens_for(Session, "after_transaction_create")
def _no_store_without_a_slot(session: Session, transaction: SessionTransaction) -> None:
    """A request's session begins a transaction (and so takes a pooled connection) only while the request holds a
    slot: never during `store_released`."""
    slot = session.info.get(_SLOT)
    if slot is not None and not slot.held and transaction.parent is None:
        raise RuntimeError("the store was used while the request gave its slot back (store_released)")


def end_reads(session: Session) -> None:
    """The request's store reads are done (a commit: nothing is pending): its connection goes back to the pool before
    it reads Dagster. The slot stays held."""
    if session.in_transaction():
        session.commit()


@contextmanager
def store_released(session: Session) -> Iterator[None]:
    """For the block (a wait on Dagster), the request holds neither a connection nor a slot: what it wrote is
    committed, its connection back in the pool and its slot free for another request; after the block it waits for a
    slot again, on the event loop. Called in the route's worker thread; the block must not use the session (nor its
    ORM objects). A session that is not a request's (the CLI, a test) only commits."""
    session.commit()
    slot = session.info.get(_SLOT)
    if not isinstance(slot, StoreSlot) or not slot.held:
        yield
        return
    anyio.from_thread.run_sync(slot.give_back)
    try:
        yield
    finally:
        anyio.from_thread.run(slot.take)


# "function": closed once the route returned and its response is serialized, not after a (slow) client read it.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def current_token(
    session: Session, credentials: HTTPAuthorizationCredentials | None, limits: SlidingWindow
) -> TokenGrant:
    """The caller's grant; 401 for a missing, unknown, revoked or expired token, 429 past the token's rate limit.

    Read from the store at every request, never cached: `honeyframe token revoke` deletes the row, so the next
    request with that token is refused, in every worker process at once."""
    try:
        if credentials is None:
            raise TokenRejected("missing or unknown bearer token")
        grant = verify_token(session, credentials.credentials)
    except TokenRejected as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    check_rate(limits, grant)
    set_actor(session, grant.name)  # a version this request writes is created by this token
    return grant


def check_rate(limits: SlidingWindow, grant: TokenGrant) -> None:
    """429 with Retry-After when the token has sent HONEYFRAME_RATE_LIMIT_PER_MINUTE requests in the last minute
    (to this API process; see api/limits.py). Refused requests do not count."""
    wait = limits.take(grant.name)
    if wait is not None:
        raise HTTPException(
            429,
            f"token '{grant.name}' sent {limits.limit} requests within a minute, the most "
            f"HONEYFRAME_RATE_LIMIT_PER_MINUTE allows; retry after {wait} s",
            headers={"Retry-After": str(wait)},
        )


def request_limits(request: Request) -> SlidingWindow:
    limits: SlidingWindow = request.app.state.request_limits
    return limits


def token_dependency(request: Request, session: SessionDep, credentials: BearerDep) -> TokenGrant:
    return current_token(session, credentials, request_limits(request))


TokenDep = Annotated[TokenGrant, Depends(token_dependency)]


def current_project(
    request: Request,
    session: SessionDep,
    credentials: BearerDep,
    x_project_id: Annotated[str | None, Header(description="The project this request acts on (required).")] = None,
) -> str:
    """The project of `X-Project-Id`, after the token (401 first): both checks in one worker thread, not two."""
    token = current_token(session, credentials, request_limits(request))
    if not x_project_id:
        raise HTTPException(400, "the X-Project-Id header is missing: send the id of the project this request acts on")
    if not token.may_act_on(x_project_id):
        raise HTTPException(403, f"token '{token.name}' may not act on project '{x_project_id}'")
    # An id that cannot be a project's names none (and is not sent to the database).
    if not re.fullmatch(PROJECT_ID_PATTERN, x_project_id) or session.get(ProjectRow, x_project_id) is None:
        raise HTTPException(404, f"unknown project '{x_project_id}'")
    return x_project_id


ProjectDep = Annotated[str, Depends(current_project)]


def admin_token(token: TokenDep) -> TokenGrant:
    """Templates and the enable matrix are org-wide: only an admin (org-wide) token may change them."""
    if not token.is_admin:
        raise HTTPException(403, f"token '{token.name}' is not an admin token; templates and the matrix are org-wide")
    return token


AdminDep = Annotated[TokenGrant, Depends(admin_token)]


# Plain attribute reads: `async` so that they run on the event loop, not in a worker thread.
async def get_dagster(request: Request) -> DagsterClient | None:
    return request.app.state.dagster


DagsterDep = Annotated[DagsterClient | None, Depends(get_dagster)]


async def get_planner(request: Request) -> Planner:
    return request.app.state.planner


PlannerDep = Annotated[Planner, Depends(get_planner)]


async def get_reconciler(request: Request) -> Reconciler | None:
    return request.app.state.reconciler


ReconcilerDep = Annotated[Reconciler | None, Depends(get_reconciler)]


@dataclass(frozen=True)
class Backends:
    """What a route that plans or writes scenarios works with: the request's store session, Dagster (None: no
    webserver configured) and the planner."""

    session: Session
    dagster: DagsterClient | None
    planner: Planner
    # What runs after a committed write (None: no Dagster configured).
    reconciler: Reconciler | None

    def plan(self, project_id: str) -> ProjectPlan:
        return self.planner.plan(self.session, project_id)

    def plan_one(self, project_id: str, scenario_id: int) -> ProjectPlan:
        return self.planner.plan_one(self.session, project_id, scenario_id)

    def plan_stored(self, project_id: str, scenario_id: int) -> ProjectPlan:
        """`plan_one` of a scenario the project has; 404 for an unknown id or another project's (which `plan_one`,
        reading the project's scenario of that id, does not find)."""
        plan = self.plan_one(project_id, scenario_id) if service.is_row_id(scenario_id) else None
        if plan is None or scenario_id not in plan.entries:
            raise HTTPException(404, f"no scenario {scenario_id} in project '{project_id}'")
        return plan


async def get_backends(  # as get_dagster
    session: SessionDep, dagster: DagsterDep, planner: PlannerDep, reconciler: ReconcilerDep
) -> Backends:
    return Backends(session, dagster, planner, reconciler)


BackendsDep = Annotated[Backends, Depends(get_backends)]
