"""`http` connector: a CSV or JSON document fetched over HTTP(S)."""

from __future__ import annotations

from pathlib import Path

import httpx

from honeyframe_dagster.connectors.extract import ConnectorError, FileExtract, FileFormat


def download(client: httpx.Client, url: str, target: Path, what: str) -> None:
    """Stream a response body to `target`; a refused connection or an HTTP error names `what` and the status."""
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise ConnectorError(f"{what}: HTTP {response.status_code} from {url}")
            with target.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise ConnectorError(f"{what}: {type(exc).__name__} fetching {url}: {exc}") from None


def fetch_http(url: str, file_format: FileFormat, workdir: Path, timeout: float) -> FileExtract:
    target = workdir / f"download.{file_format}"
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        download(client, url, target, "connector.url")
    return FileExtract(str(target), file_format)
