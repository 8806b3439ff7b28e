"""The API's router class: a sync route runs in one worker thread, and its response is checked on the event loop.

FastAPI validates the response of a sync route in a second worker-thread hop: another wait behind busy threads and
another thread wake-up per request. Of an async route it validates on the event loop, where, for the response
models the routes return, it is an instance check. So each sync route is registered as an async one that runs it
in a worker thread (the same limiter FastAPI uses); the module keeps the sync function.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool


def in_worker_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """`endpoint` as a coroutine function with the same signature (FastAPI reads it through `__wrapped__`)."""

    @functools.wraps(endpoint)
    async def threaded(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(endpoint, *args, **kwargs)

    return threaded


class Router(APIRouter):
    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_worker_thread(endpoint)
        super().add_api_route(path, endpoint, **kwargs)
