"""A local mail sink for development and demos: an SMTP server that keeps every message as an .eml file."""

from __future__ import annotations

import datetime as dt
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class EmlDirectoryHandler:
    """aiosmtpd handler: each accepted message becomes `<UTC time>-<id>.eml`, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        # The envelope says who the message was really sent to (Bcc included); the headers alone do not.
        trace = f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        name = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(trace + content)
        partial.rename(self.directory / name)
        return "250 Message accepted for delivery"


def start(host: str, port: int, directory: Path) -> Controller:
    """Start the sink in a background thread (stop it with `.stop()`)."""
    directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(EmlDirectoryHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


def serve(host: str, port: int, directory: Path) -> None:
    """Run the sink until SIGTERM or SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    controller = start(host, port, directory)
    print(f"mail sink on {host}:{port}, storing messages in {directory}", flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    # `honeyframe up` runs the sink as a script (`python mailsink.py HOST PORT DIR`): the `honeyframe mailsink`
    # command would import the whole CLI (Dagster included) into a process that only needs aiosmtpd.
    import sys

    serve(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
