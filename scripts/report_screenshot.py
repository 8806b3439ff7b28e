"""Regenerate the README's picture of the e-mail that `weekly-revenue-report` (examples/reports.yaml) sends, from the
sample data as a first `honeyframe up` makes it today (honeyframe_dagster/sample_data.py: orders ending yesterday).

    .venv/bin/python scripts/report_screenshot.py [OUTPUT.png]

Everything happens in a temporary HONEYFRAME_HOME: `honeyframe apply examples/`, then the scenario's own Dagster job
runs in this process as a run now (dbt builds the marts, the report step mails the dashboards), the local mail sink
keeps the message, and headless Chromium (Debian's `chromium` package) renders its HTML part, inline charts
included, as a mail reader shows it. Nothing outside the temporary home is touched but OUTPUT.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from email import policy
from email.parser import BytesParser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "docs" / "images" / "weekly-revenue-report.png"
JOB = "acme_sales__weekly_revenue_report"
# The width of a mail reader's message pane; the page is cut to its content below.
WIDTH, MAX_HEIGHT = 680, 4000
MARGIN = 24


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def isolate(home: Path, smtp_port: int) -> None:
    """This process's settings: a fresh home, the mail sink's port, no Dagster to reload (apply says so)."""
    for name in list(os.environ):
        if name.startswith("HONEYFRAME_") or name == "DAGSTER_HOME":
            del os.environ[name]
    os.environ.update(
        HONEYFRAME_HOME=str(home),
        HONEYFRAME_SMTP_PORT=str(smtp_port),
        HONEYFRAME_DAGSTER_URL=f"http://127.0.0.1:{free_port()}",
    )


def send_report(mail_dir: Path) -> Path:
    """Apply the examples to the sample data of today, run the scenario's job; the .eml the sink kept."""
    from dagster import DagsterInstance

    from honeyframe_dagster.cli import main as honeyframe
    from honeyframe_dagster.clock import utcnow
    from honeyframe_dagster.definitions import load_definitions
    from honeyframe_dagster.model.tags import SCHEDULED_FOR_TAG
    from honeyframe_dagster.sample_data import follow_today
    from honeyframe_dagster.services import mailsink
    from honeyframe_dagster.settings import EXAMPLES_DIR, get_settings

    settings = get_settings()
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    follow_today(settings)
    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        applied = honeyframe(["apply", str(EXAMPLES_DIR)])
    if applied != 0:
        sys.exit(f"honeyframe apply examples/ failed:\n{said.getvalue()}")
    sink = mailsink.start("127.0.0.1", settings.smtp_port, mail_dir)
    try:
        job = load_definitions().get_job_def(JOB)
        with DagsterInstance.ephemeral() as instance:
            # A run now: the report's period (last week) ends at this moment.
            result = job.execute_in_process(
                instance=instance, tags={SCHEDULED_FOR_TAG: utcnow().isoformat()}, raise_on_error=False
            )
    finally:
        sink.stop()
    messages = sorted(mail_dir.glob("*.eml"))
    if not result.success or not messages:
        sys.exit(f"{JOB} did not mail its report (run {'succeeded' if result.success else 'failed'})")
    return messages[-1]


def mail_html(eml: Path) -> str:
    """The message's HTML part, its inline images (`cid:`) as data: URIs so that a browser shows them."""
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    body = message.get_body(preferencelist=("html",))
    if body is None:
        sys.exit(f"{eml} has no HTML part")
    html = str(body.get_content())
    for part in message.walk():
        cid, payload = part.get("Content-ID"), part.get_payload(decode=True)
        if cid and part.get_content_maintype() == "image" and isinstance(payload, bytes):
            data = base64.b64encode(payload).decode()
            html = html.replace(f"cid:{cid.strip('<>')}", f"data:{part.get_content_type()};base64,{data}")
    return html


def screenshot(html: Path, png: Path) -> None:
    """Chromium's picture of the page, cut below its last content (Chromium shoots the whole window)."""
    from PIL import Image, ImageChops

    chromium = shutil.which("chromium") or sys.exit("no `chromium` on PATH (Debian: apt-get install chromium)")
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={WIDTH},{MAX_HEIGHT}",
        f"--screenshot={png}",
        html.as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    with Image.open(png) as shot:
        image = shot.convert("RGB")
    background = Image.new("RGB", image.size, image.getpixel((0, image.height - 1)))
    content = ImageChops.difference(image, background).getbbox()
    bottom = image.height if content is None else min(image.height, content[3] + MARGIN)
    image.crop((0, 0, image.width, bottom)).save(png, optimize=True)


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    with tempfile.TemporaryDirectory(prefix="report-screenshot-") as folder:
        isolate(Path(folder) / "home", free_port())
        eml = send_report(Path(folder) / "mail")
        page = Path(folder) / "report.html"
        page.write_text(mail_html(eml), encoding="utf-8")
        output.parent.mkdir(parents=True, exist_ok=True)
        screenshot(page, output.resolve())
    print(f"wrote {output} from {eml.name}")


if __name__ == "__main__":
    main()
