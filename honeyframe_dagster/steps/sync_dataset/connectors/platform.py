"""`platform` connector: the Honeyframe platform's own "Sync now", then its result.

The protocol (JSON over HTTP, base URL from the env var named by `connector.base_url_env`):

1. `POST {base}/api/datasets/{dataset_id}/sync` starts a sync; answers 200/201/202 with `{"sync_id": "..."}`.
2. `GET {base}/api/syncs/{sync_id}` answers `{"status": "pending" | "running" | "done" | "failed",
   "error": "..." (when failed), "format": "csv" | "json" (when done; default csv)}`. Polled every
   `connector.poll_seconds` until done or failed, for at most `connector.timeout_seconds`.
3. `GET {base}/api/syncs/{sync_id}/data` answers the synced rows as CSV, or as a JSON array of objects.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from honeyframe_dagster.model.documents import PlatformConnector
from honeyframe_dagster.net_policy import redact_url, scrub
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.sync_dataset.connectors.extract import ConnectorError, FileExtract
from honeyframe_dagster.steps.sync_dataset.connectors.http import download

if TYPE_CHECKING:
    # Types only: httpx is imported by the functions that make requests.
    import httpx

_FORMATS = {"csv", "json"}


def _json(response: httpx.Response, what: str) -> dict:
    if response.status_code >= 400:
        raise ConnectorError(f"{what}: HTTP {response.status_code} from {redact_url(str(response.request.url))}")
    try:
        body = response.json()
    except ValueError:
        raise ConnectorError(f"{what}: the platform answered something that is not JSON") from None
    if not isinstance(body, dict):
        raise ConnectorError(f"{what}: expected a JSON object, got {type(body).__name__}")
    return body


def start_sync(client: httpx.Client, dataset_id: str) -> str:
    body = _json(client.post(f"/api/datasets/{quote(dataset_id, safe='')}/sync"), "sync now")
    sync_id = body.get("sync_id")
    if not isinstance(sync_id, str | int) or str(sync_id) == "":
        raise ConnectorError("sync now: the platform's answer has no 'sync_id'")
    return str(sync_id)


def wait_for_sync(client: httpx.Client, sync_id: str, timeout: float, poll: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = _json(client.get(f"/api/syncs/{quote(sync_id, safe='')}"), f"sync {sync_id} status")
        state = status.get("status")
        if state == "done":
            return status
        if state == "failed":
            raise ConnectorError(f"sync {sync_id} failed on the platform: {status.get('error') or 'no reason given'}")
        if state not in {"pending", "running"}:
            raise ConnectorError(f"sync {sync_id}: unknown status {state!r}")
        if time.monotonic() + poll > deadline:
            raise ConnectorError(f"sync {sync_id} did not finish within connector.timeout_seconds={timeout:g}")
        time.sleep(poll)


def fetch_platform(connector: PlatformConnector, workdir: Path, request_timeout: float) -> FileExtract:
    # imported here: a code location loads the connectors to build jobs, only a run worker fetches
    import httpx

    from honeyframe_dagster.net_clients import guarded_client

    base_url = get_settings().secret(connector.base_url_env)
    if not base_url:
        raise ConnectorError(
            f"connector.base_url_env: environment variable {connector.base_url_env} is not set", retryable=False
        )
    try:
        with guarded_client(base_url=base_url.rstrip("/"), timeout=request_timeout, follow_redirects=False) as client:
            sync_id = start_sync(client, connector.dataset_id)
            status = wait_for_sync(client, sync_id, connector.timeout_seconds, connector.poll_seconds)
            file_format = status.get("format") or "csv"
            if file_format not in _FORMATS:
                raise ConnectorError(f"sync {sync_id}: unsupported data format {file_format!r}")
            target = workdir / f"platform.{file_format}"
            download(client, f"/api/syncs/{quote(sync_id, safe='')}/data", target, f"sync {sync_id} data")
    except httpx.HTTPError as exc:
        raise ConnectorError(
            f"platform at {connector.base_url_env}: {type(exc).__name__}: {scrub(str(exc), base_url)}"
        ) from None
    return FileExtract(str(target), file_format)  # type: ignore[arg-type]
