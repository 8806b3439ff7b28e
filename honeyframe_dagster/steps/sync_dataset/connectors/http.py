"""`http` connector: a CSV or JSON document fetched over HTTP(S), from a host the connector policy allows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from honeyframe_dagster.net_policy import EgressRefused, redact_url, scrub
from honeyframe_dagster.steps.sync_dataset.connectors.extract import ConnectorError, FileExtract, FileFormat

if TYPE_CHECKING:
    # Types only: httpx is imported by the functions that make requests.
    import httpx


def download(client: httpx.Client, url: str, target: Path, what: str) -> None:
    """Stream a response body to `target`; errors name `what`, the status and the URL without its credentials."""
    import httpx  # imported here: a code location loads the connectors to build jobs, only a run worker fetches

    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                shown = redact_url(str(response.request.url))
                # A 4xx says the request itself is wrong; only a server error (5xx) may pass on a retry.
                raise ConnectorError(
                    f"{what}: HTTP {response.status_code} from {shown}", retryable=response.status_code >= 500
                )
            with target.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
    except httpx.HTTPError as exc:
        full = str(client.base_url.join(url))
        detail = scrub(str(exc), full)
        raise ConnectorError(
            f"{what}: {type(exc).__name__} fetching {redact_url(full)}: {detail}",
            retryable=not isinstance(exc, EgressRefused),
        ) from None


def fetch_http(url: str, file_format: FileFormat, workdir: Path, timeout: float) -> FileExtract:
    # imported here: a code location loads the connectors to build jobs, only a run worker fetches (httpx)
    from honeyframe_dagster.net_clients import guarded_client

    target = workdir / f"download.{file_format}"
    with guarded_client(timeout=timeout) as client:
        download(client, url, target, "connector.url")
    return FileExtract(str(target), file_format)
