"""Rows to an AI agent over the OpenAI-compatible chat-completions API, in batches with bounded concurrency.

Each row is sent as one chat: the agent's system prompt, then the row as a JSON object. A row that fails
(HTTP error, timeout, malformed answer) gets its error instead of an answer; the others go on. The API key
is only ever put in the Authorization header and is redacted from every error text. The endpoint's host must
pass the connector policy (net_policy.py), checked at every connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # httpx (and net_clients) and tenacity are imported where rows are sent: a code location loads this module (the
    # step's op) to build jobs, only a run worker calls the agent.
    import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 2
# Wait before retry n: RETRY_SECONDS * n.
RETRY_SECONDS = 0.2


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str | None
    model: str
    system_prompt: str
    timeout: float


@dataclass(frozen=True)
class RowResult:
    row_key: str
    input: str
    output: str | None
    error: str | None


def row_key(row: Mapping[str, Any]) -> str:
    """Stable across runs: the same input row always gets the same key, so a re-run upserts, never duplicates."""
    return hashlib.sha256(canonical(row).encode()).hexdigest()[:32]


def canonical(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str, separators=(",", ":"))


def redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _answer(body: Any) -> str:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ValueError("the answer has no choices[0].message.content") from None
    if not isinstance(content, str):
        raise ValueError("choices[0].message.content is not text")
    return content.strip()


def _error_text(response: httpx.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    return f"HTTP {response.status_code}: {message}".strip()


class _RowFailed(Exception):
    """One attempt at a row failed; `retryable`: a transport error or a status in RETRY_STATUSES."""

    def __init__(self, error: str, retryable: bool) -> None:
        super().__init__(error)
        self.error = error
        self.retryable = retryable


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _RowFailed) and exc.retryable


async def _attempt(client: httpx.AsyncClient, payload: Mapping[str, Any]) -> str:
    import httpx  # imported here: see the top

    try:
        response = await client.post("/chat/completions", json=payload)
    except httpx.HTTPError as exc:
        raise _RowFailed(f"{type(exc).__name__}: {exc}", retryable=True) from None
    if response.status_code >= 400:
        raise _RowFailed(_error_text(response), retryable=response.status_code in RETRY_STATUSES)
    try:
        return _answer(response.json())
    except ValueError as exc:  # a malformed answer is not retried: the agent would likely answer the same
        raise _RowFailed(str(exc), retryable=False) from None


async def complete_row(client: httpx.AsyncClient, endpoint: Endpoint, row: Mapping[str, Any]) -> RowResult:
    # imported here: see the top
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_incrementing

    text = canonical(row)
    payload = {
        "model": endpoint.model,
        "messages": [{"role": "system", "content": endpoint.system_prompt}, {"role": "user", "content": text}],
    }
    retrying = AsyncRetrying(
        retry=retry_if_exception(_retryable),
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_incrementing(start=RETRY_SECONDS, increment=RETRY_SECONDS),
        reraise=True,
    )
    try:
        return RowResult(row_key(row), text, await retrying(_attempt, client, payload), None)
    except _RowFailed as exc:
        return RowResult(row_key(row), text, None, redact(exc.error, endpoint.api_key))


async def _complete_all(
    endpoint: Endpoint,
    rows: Sequence[Mapping[str, Any]],
    batch_size: int,
    concurrency: int,
    progress: Callable[[int, int], None],
) -> list[RowResult]:
    from honeyframe_dagster.net_clients import guarded_async_client  # imported here: see the top

    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    limit = asyncio.Semaphore(concurrency)
    results: list[RowResult] = []

    async def bounded(client: httpx.AsyncClient, row: Mapping[str, Any]) -> RowResult:
        async with limit:
            return await complete_row(client, endpoint, row)

    async with guarded_async_client(
        base_url=endpoint.base_url.rstrip("/"), headers=headers, timeout=endpoint.timeout, follow_redirects=False
    ) as client:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            results += await asyncio.gather(*(bounded(client, row) for row in batch))
            progress(len(results), len(rows))
    return results


def complete_rows(
    endpoint: Endpoint,
    rows: Sequence[Mapping[str, Any]],
    *,
    batch_size: int,
    concurrency: int,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[RowResult]:
    """One result per row, in input order."""
    return asyncio.run(_complete_all(endpoint, rows, max(1, batch_size), max(1, concurrency), progress))
