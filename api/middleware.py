"""ASGI middleware: a request id on every response, a 1 MiB cap on request bodies, and bodies that are JSON."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from honeyframe_dagster.model.hygiene import json_problem

MAX_BODY_BYTES = 1024 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The JSON API; the admin pages under /admin post HTML forms.
JSON_API_PREFIX = "/api/"
# Deeper than any document (a step's free-form args are checked at MAX_JSON_DEPTH below their own level).
MAX_BODY_DEPTH = 64


class RequestIdMiddleware:
    """Every response carries `X-Request-ID`; error logs and 5xx bodies use the same id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = [*headers, (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """413 for a body over the limit, whether announced by Content-Length or streamed in chunks."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises HTTPExceptions met while reading a body (others become a 400).
                    raise HTTPException(413, self._detail)
            return message

        await self.app(scope, counting_receive, send)

    @property
    def _detail(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": self._detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class JsonBodyMiddleware:
    """A request body of the JSON API (`/api/...`) is JSON: another content type → 415; JSON that a store could
    not keep or a response could not echo → 422 naming where (a lone surrogate, NaN or Infinity, an integer past
    64 bits, nesting past MAX_BODY_DEPTH, bytes that are not UTF-8).

    Without it a `text/plain` body reached validation as bytes, and `json.loads` accepts `NaN` and `"\\ud800"`,
    which later break Postgres or the JSON encoder of the response (500s). The body (at most the body limit;
    a larger announced one goes on to BodyLimitMiddleware) is read here and replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        json_api = scope["type"] == "http" and str(scope.get("path", "")).startswith(JSON_API_PREFIX)
        if not json_api or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await send_json(send, 413, {"detail": f"request body larger than {self.max_bytes} bytes"})
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if body:
            problem = body_problem(headers.get(b"content-type", b""), body)
            if problem is not None:
                await send_json(send, *problem)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def body_problem(content_type: bytes, body: bytes) -> tuple[int, dict[str, Any]] | None:
    """(status, error body) for a body that is not usable JSON; None when it is, or when it is malformed JSON
    (FastAPI answers that with its own 422 naming the position)."""
    media_type = content_type.split(b";")[0].strip().lower()
    if media_type != b"application/json" and not media_type.endswith(b"+json"):
        shown = media_type.decode("latin-1") or "none"
        return 415, {"detail": f"request body must be JSON (Content-Type: application/json), got {shown!r}"}
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        return _unusable([], f"body is not UTF-8 (byte {exc.start})")
    except json.JSONDecodeError:
        return None
    except RecursionError:
        return _unusable([], f"nested deeper than {MAX_BODY_DEPTH} levels")
    except ValueError as exc:  # NaN / Infinity, or an integer literal of thousands of digits
        return _unusable([], str(exc))
    problem = json_problem(value, MAX_BODY_DEPTH)
    return None if problem is None else _unusable(*problem)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unusable(path: list[str | int], message: str) -> tuple[int, dict[str, Any]]:
    return 422, {"detail": [{"loc": ["body", *path], "msg": message, "input": None}]}


async def send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    body = json.dumps(content).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
