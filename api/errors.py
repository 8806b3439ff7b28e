"""Error bodies: 422 names the field path and the value; a 5xx says nothing internal but its request id."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from honeyframe_dagster.model.errors import FieldError, InvalidDocument
from honeyframe_dagster.model.suggest import unknown_field_message
from honeyframe_dagster.store.engine import describe_outage, store_unavailable
from honeyframe_dagster.store.service import Conflict, Invalid, NotFound
from honeyframe_dagster.store.writes import conflict_message

log = logging.getLogger("honeyframe.api")
# What a 503 for an unreachable store tells the client to wait before retrying.
STORE_RETRY_AFTER_SECONDS = 5


class ApiValidationError(Exception):
    """A request that passed the schema but not the store's checks (unknown recipe, cycle, ...)."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__("; ".join(str(e["msg"]) for e in errors))
        self.errors = [dict(e) for e in errors]


def dagster_unavailable(request: Request, what: str, exc: Exception) -> HTTPException:
    """503 whose body names only what failed; the cause goes to the log under the request id."""
    request_id = request.scope.get("state", {}).get("request_id", "-")
    log.error("request %s: %s: %s", request_id, what, exc)
    return HTTPException(503, f"{what}; see the server log for request {request_id}")


@contextmanager
def translated() -> Iterator[None]:
    """The write service's refusals as HTTP answers: Invalid → 422 (each error at its place in the body),
    Conflict → 409, NotFound → 404."""
    try:
        yield
    except Invalid as exc:
        raise ApiValidationError([body_error(error) for error in exc.errors]) from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None


def body_error(error: FieldError) -> dict[str, Any]:
    return {"loc": ["body", *error.loc], "msg": error.msg, "input": error.input}


def _schema_error(error: Mapping[str, Any]) -> dict[str, Any]:
    loc = list(error["loc"])
    msg = unknown_field_message(error) or str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, bytes):  # a body that is not JSON (e.g. a form post): echoed as text, not a 500
        value = value.decode("utf-8", "replace")
    if error["type"] == "union_tag_invalid":
        loc, value = [*loc, "kind"], (error.get("ctx") or {}).get("tag")
    elif isinstance(cause := (error.get("ctx") or {}).get("error"), InvalidDocument):
        # A model-level check located the inner field ("steps", 0, "kind"), and found its value.
        inner = cause.first
        loc, msg, value = [*loc, *inner.loc], inner.msg, inner.input
    # Pydantic puts the discriminator's tag into the path ("steps", 0, "run_recipe", "recipe"): drop it.
    loc = [part for i, part in enumerate(loc) if not (i and isinstance(loc[i - 1], int) and _is_tag(part))]
    return {"loc": loc, "msg": msg, "input": value}


def _is_tag(part: Any) -> bool:
    from honeyframe_dagster.model.steps import STEP_KINDS

    return part in STEP_KINDS or part == "function-after[_ordered(), TimeRange]"


async def on_request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": [_schema_error(error) for error in exc.errors()]}, status_code=422)


async def on_api_validation(request: Request, exc: ApiValidationError) -> JSONResponse:
    return JSONResponse({"detail": exc.errors}, status_code=422)


def log_store_outage(request: Request, exc: Exception) -> dict[str, str]:
    """Log the one line for this failure; return the headers of its 503 (Retry-After, the request id)."""
    request_id = request_id_of(request)
    log.error(
        "request %s %s %s: store unavailable: %s", request_id, request.method, request.url.path, describe_outage(exc)
    )
    return {"Retry-After": str(STORE_RETRY_AFTER_SECONDS), "X-Request-ID": request_id}


async def on_store_error(request: Request, exc: Exception) -> JSONResponse:
    """503 + Retry-After when the store cannot be reached; any other database error is an internal error.

    Registered for the database exception classes, so Starlette's ExceptionMiddleware answers and the error is
    not re-raised to the server (which would log it a second time).
    """
    if not store_unavailable(exc):
        return await on_unexpected(request, exc)
    headers = log_store_outage(request, exc)
    request_id = headers["X-Request-ID"]
    body = {"detail": f"the store is unavailable; retry later (request {request_id})", "request_id": request_id}
    return JSONResponse(body, status_code=503, headers=headers)


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


async def on_integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
    """A unique constraint that lost a race with a concurrent write: 409, nothing of this request was kept."""
    log.info("request %s %s %s: %s", request_id_of(request), request.method, request.url.path, exc.orig)
    return JSONResponse({"detail": conflict_message(exc)}, status_code=409)


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id", "-")
    log.exception("request %s %s %s failed", request_id, request.method, request.url.path)
    return JSONResponse(
        {"detail": "internal error", "request_id": request_id},
        status_code=500,
        headers={"X-Request-ID": request_id},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_request_validation)  # type: ignore[arg-type]
    app.add_exception_handler(ApiValidationError, on_api_validation)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, on_integrity_error)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, on_store_error)
    app.add_exception_handler(SQLAlchemyTimeoutError, on_store_error)
    app.add_exception_handler(Exception, on_unexpected)
