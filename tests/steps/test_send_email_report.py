"""send_email_report in real scenario jobs: real DuckDB marts, a real Dagster instance, a real SMTP server."""

from __future__ import annotations

import datetime as dt
import io
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from dagster import DagsterInstance, Definitions, ExecuteInProcessResult
from pypdf import PdfReader

from honeyframe_dagster.reports.formatting import format_value
from honeyframe_dagster.services.mailsink import EmlDirectoryHandler
from honeyframe_dagster.settings import EXAMPLES_DIR
from tests.conftest import ApplyYaml

REGIONS = {"north": 0.0, "south": 0.5, "east & <west>": 0.25}
FIRST_DAY, LAST_DAY = dt.date(2026, 9, 1), dt.date(2026, 11, 30)
JOB = "acme_sales__weekly_report"
USER, PASSWORD = "reporter", "s3cret-Pa55word"


def scenario(report: str, name: str = "weekly report") -> str:
    """A weekly Monday 08:00 (Europe/Berlin) scenario of acme-sales (owner ana) with one report step."""
    return f"""
kind: Scenario
project: acme-sales
name: {name}
trigger: {{cron: "0 8 * * 1", timezone: Europe/Berlin}}
steps:
  - kind: send_email_report
    dashboard_ids: [revenue-overview]
    recipients: [ceo@acme.example, cfo@acme.example]
{report}
"""


def week_days(monday: dt.date) -> list[dt.date]:
    return [monday + dt.timedelta(days=i) for i in range(7)]


def amount(day: dt.date, region: str) -> float:
    return day.day * 10 + REGIONS[region]


def revenue(first: dt.date, last: dt.date) -> str:
    """The Revenue card's value for the days first..last, as the report prints it."""
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return format_value(sum(amount(day, region) for day in days for region in REGIONS), "currency:EUR")


def build_marts(warehouse: Path) -> None:
    """The dbt marts the dashboards read, built directly (a dbt build is tested elsewhere)."""
    days = [FIRST_DAY + dt.timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create table mart_revenue (order_date date, region varchar, orders bigint, amount double)")
        connection.executemany(
            "insert into mart_revenue values (?, ?, ?, ?)",
            [(day, region, day.day % 5 + 1, amount(day, region)) for day in days for region in REGIONS],
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FlakyHandler(EmlDirectoryHandler):
    """Answers 451 (try again later) to the first `refusals` messages, then stores them like the mail sink."""

    def __init__(self, directory: Path, refusals: int) -> None:
        super().__init__(directory)
        self.refusals = refusals

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusals > 0:
            self.refusals -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        return await super().handle_DATA(server, session, envelope)


def check_credentials(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@dataclass
class Sink:
    port: int
    directory: Path
    handler: EmlDirectoryHandler

    def messages(self) -> list[EmailMessage]:
        return [
            BytesParser(policy=policy.default).parsebytes(path.read_bytes())  # type: ignore[misc]
            for path in sorted(self.directory.glob("*.eml"))
        ]


StartSink = Callable[..., Sink]


@pytest.fixture
def smtp_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StartSink]:
    """Starts a real SMTP server (aiosmtpd) on a free loopback port and points HONEYFRAME_SMTP_* at it."""
    controllers: list[Controller] = []

    def start(refusals: int = 0, auth: bool = False) -> Sink:
        directory = tmp_path / f"mail-{len(controllers)}"
        directory.mkdir()
        handler = FlakyHandler(directory, refusals)
        port = free_port()
        extra: dict[str, Any] = {"authenticator": check_credentials, "auth_required": True} if auth else {}
        controller = Controller(handler, hostname="127.0.0.1", port=port, auth_require_tls=False, **extra)
        controller.start()
        controllers.append(controller)
        monkeypatch.setenv("HONEYFRAME_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("HONEYFRAME_SMTP_PORT", str(port))
        monkeypatch.setenv("HONEYFRAME_SMTP_FROM", "reports@acme.example")
        return Sink(port, directory, handler)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def reporting(apply_yaml: ApplyYaml, projects: None, hf_home: Path) -> Path:
    """The example dashboards applied and the marts they read in the warehouse."""
    assert apply_yaml((EXAMPLES_DIR / "dashboards.yaml").read_text()) == 0
    build_marts(hf_home / "warehouse.duckdb")
    return hf_home


def run_job(load_defs: Callable[[], Definitions], instance: DagsterInstance, partition: str) -> ExecuteInProcessResult:
    job = load_defs().get_job_def(JOB)
    return job.execute_in_process(instance=instance, partition_key=partition, raise_on_error=False)


def events(result: ExecuteInProcessResult, kind: str) -> list[Any]:
    return [e for e in result.all_events if e.event_type_value == kind]


def output_metadata(result: ExecuteInProcessResult) -> dict[str, Any]:
    (output,) = events(result, "STEP_OUTPUT")
    return {key: value.value for key, value in output.step_output_data.metadata.items()}


def test_pdf_report_is_delivered_as_the_owner_sees_it_for_the_scheduled_week(
    apply_yaml: ApplyYaml,
    reporting: Path,
    smtp_sink: StartSink,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
) -> None:
    sink = smtp_sink()
    assert apply_yaml(scenario("    format: pdf\n    time_filter: last_week")) == 0
    result = run_job(load_defs, instance, "2026-11-16")
    assert result.success

    (message,) = sink.messages()
    assert message["Subject"] == "Acme Sales: Revenue overview — 2026-11-16"
    assert message["To"] == "ceo@acme.example, cfo@acme.example"
    assert message["X-Envelope-To"] == "ceo@acme.example, cfo@acme.example"
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "report-2026-11-16.pdf"
    pdf = PdfReader(io.BytesIO(attachment.get_content()))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    for title in (
        "Revenue overview",
        "Revenue",
        "Completed orders",
        "Revenue by region",
        "Daily revenue",
        "Average order value by region",
    ):
        assert title in text
    # Visible to the CFO only: the owner (ana) renders the report, so it is left out even though the CFO receives it.
    assert "finance only" not in text
    # Monday 2026-11-16's "last week" is Nov 9-15, whatever the wall clock says.
    assert "Last week, 9–15 Nov 2026" in text
    week = revenue(dt.date(2026, 11, 9), dt.date(2026, 11, 15))
    assert week.startswith("€") and week in text
    # The mail's body carries the headline numbers (and names the attachment), in both of its parts.
    body = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "report-2026-11-16.pdf" in body and "report-2026-11-16.pdf" in html
    orders = format_value(sum(day.day % 5 + 1 for day in week_days(dt.date(2026, 11, 9)) for _ in REGIONS))
    for part in (body, html):
        assert week in part and orders in part and "Last week, 9–15 Nov 2026" in part
    assert f"Revenue: {week}" in body and f"Completed orders: {orders}" in body

    metadata = output_metadata(result)
    assert metadata["emails sent"] == 1 and metadata["recipients"] == 2 and metadata["format"] == "pdf"
    assert metadata["dashboards"] == "revenue-overview"
    assert metadata["cards rendered"] == 5 and metadata["cards hidden from owner"] == 1
    assert (Path(metadata["report"]) / "report-2026-11-16.pdf").read_bytes() == attachment.get_content()


def test_html_report_of_a_past_partition_shows_that_period_with_inline_charts(
    apply_yaml: ApplyYaml,
    reporting: Path,
    smtp_sink: StartSink,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
) -> None:
    sink = smtp_sink()
    # No time_filter: the dashboard's default (last_30_days) applies, counted back from the partition's instant.
    assert apply_yaml(scenario("    format: html")) == 0
    result = run_job(load_defs, instance, "2026-10-05")
    assert result.success

    (message,) = sink.messages()
    assert not list(message.iter_attachments())
    html = message.get_body(("html",)).get_content()
    for title in ("Revenue overview", "Revenue by region", "Daily revenue", "Average order value by region"):
        assert f">{title}<" in html
    assert "finance only" not in html
    # The bar and the line card: PNG parts beside the HTML (multipart/related), shown by Content-ID.
    assert "<svg" not in html and html.count('<img src="cid:') == 2
    related = next(part for part in message.walk() if part.get_content_type() == "multipart/related")
    images = [part for part in related.iter_parts() if part.get_content_maintype() == "image"]
    assert [image.get_content_type() for image in images] == ["image/png", "image/png"]
    for image in images:
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html
        assert image.get_content().startswith(b"\x89PNG\r\n\x1a\n")
    # The archived copy keeps the charts as SVG, in one self-contained file.
    archived = (Path(output_metadata(result)["report"]) / "report-2026-10-05.html").read_text()
    assert archived.count("<svg") == 2 and "cid:" not in archived
    assert "Last 30 days, 5 Sep – 4 Oct 2026" in html
    assert revenue(dt.date(2026, 9, 5), dt.date(2026, 10, 4)) in html
    assert revenue(dt.date(2026, 10, 5), dt.date(2026, 11, 3)) not in html
    # Data is escaped, in tables and in SVG labels alike.
    assert "east &amp; &lt;west&gt;" in html and "<west>" not in html
    plain = message.get_body(("plain",)).get_content()
    assert "Revenue by region" in plain
    assert output_metadata(result)["format"] == "html"


def test_refused_delivery_is_retried_until_the_server_accepts(
    apply_yaml: ApplyYaml,
    reporting: Path,
    smtp_sink: StartSink,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = smtp_sink(refusals=2, auth=True)
    monkeypatch.setenv("HONEYFRAME_SMTP_USER", USER)
    monkeypatch.setenv("HONEYFRAME_SMTP_PASSWORD", PASSWORD)
    assert apply_yaml(scenario("    format: html")) == 0
    result = run_job(load_defs, instance, "2026-11-16")

    assert result.success
    assert len(events(result, "STEP_UP_FOR_RETRY")) == 2
    assert len(sink.messages()) == 1
    logs = "\n".join(str(record) for record in instance.all_logs(result.run_id))
    assert "451 4.3.0 Mailbox busy" in logs
    assert PASSWORD not in logs


def test_delivery_to_a_server_that_stays_down_fails_after_three_retries_naming_the_failure(
    apply_yaml: ApplyYaml,
    reporting: Path,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("HONEYFRAME_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HONEYFRAME_SMTP_PORT", str(port))
    monkeypatch.setenv("HONEYFRAME_SMTP_USER", USER)
    monkeypatch.setenv("HONEYFRAME_SMTP_PASSWORD", PASSWORD)
    assert apply_yaml(scenario("    format: html")) == 0
    result = run_job(load_defs, instance, "2026-11-16")

    assert not result.success
    assert len(events(result, "STEP_UP_FOR_RETRY")) == 3
    (failure,) = events(result, "STEP_FAILURE")
    error = failure.step_failure_data.error.to_string()
    assert f"SMTP delivery via 127.0.0.1:{port} (none) failed: ConnectionRefusedError" in error
    logs = "\n".join(str(record) for record in instance.all_logs(result.run_id))
    assert PASSWORD not in error + logs and USER not in error + logs


def test_header_injection_is_refused_naming_the_value(
    apply_yaml: ApplyYaml, reporting: Path, smtp_sink: StartSink, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = smtp_sink()
    injected = scenario("    format: html").replace(
        "cfo@acme.example]", '"cfo@acme.example\\r\\nBcc: eve@evil.example"]'
    )
    assert apply_yaml(injected) == 1
    assert "'cfo@acme.example\\r\\nBcc: eve@evil.example'" in capsys.readouterr().err

    # A dashboard title becomes the subject: a line break in it is refused when the dashboard is applied.
    bad_title = (
        (EXAMPLES_DIR / "dashboards.yaml")
        .read_text()
        .replace("title: Revenue overview", 'title: "Revenue\\r\\nBcc: eve@evil.example"')
    )
    assert apply_yaml(bad_title) == 1
    assert "title: must be one line of printable text; U+000D" in capsys.readouterr().err
    assert sink.messages() == []


def test_a_sensor_run_reports_on_the_period_of_its_scheduled_for_tag(
    apply_yaml: ApplyYaml,
    reporting: Path,
    smtp_sink: StartSink,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
) -> None:
    sink = smtp_sink()
    hourly = scenario("    format: html\n    time_filter: yesterday", name="hourly report")
    assert apply_yaml(hourly.replace('{cron: "0 8 * * 1", timezone: Europe/Berlin}', "{interval_seconds: 3600}")) == 0
    job = load_defs().get_job_def("acme_sales__hourly_report")
    # 23:00 UTC on Oct 12 is already Oct 13 in Berlin (the project's timezone): "yesterday" is Oct 12 there.
    result = job.execute_in_process(instance=instance, tags={"honeyframe/scheduled_for": "2026-10-12T23:00:00+00:00"})
    assert result.success
    html = sink.messages()[0].get_body(("html",)).get_content()
    assert "Yesterday, 12 Oct 2026" in html
    assert revenue(dt.date(2026, 10, 12), dt.date(2026, 10, 12)) in html


FRESH_DOCS = """
kind: Dashboard
id: headlines
project: acme-sales
title: Headlines
cards:
  - {title: Revenue, display: metric, format: "currency:EUR", sql: "select 1234.5 as revenue"}
  - {title: Cancelled, display: metric, format: percent, sql: "select 0.125 as cancelled"}
  - title: By region
    display: table
    formats: {revenue: "currency:EUR", cancelled_pct: percent, orders: integer}
    sql: >-
      select * from (values ('north', 1234.5, 0.125, 1234.5), ('south', 99.999, 0.5, 2.0))
      t(region, revenue, cancelled_pct, orders)
---
kind: Template
slug: mail-dashboards
display_name: Mail dashboards
parameters:
  - {name: dashboards, type: "list[dashboard_ref]"}
  - {name: readers, type: "list[email]", default: []}
  - {name: report_format, type: string, default: pdf}
trigger: {cron: "0 8 * * 1"}
steps:
  - kind: send_email_report
    dashboard_ids: "{{ param.dashboards }}"
    format: "{{ param.report_format }}"
    time_filter: last_week
    recipients: ["{{ project.owner_email }}", "{{ param.readers }}"]
---
kind: Matrix
template: mail-dashboards
project: acme-sales
parameters: {dashboards: [headlines], readers: [cfo@acme.example, ceo@acme.example]}
"""


def test_a_template_report_with_formats_goes_to_its_list_of_readers_before_any_dbt_run(
    apply_yaml: ApplyYaml,
    projects: None,
    hf_home: Path,
    smtp_sink: StartSink,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
) -> None:
    sink = smtp_sink()
    assert not (hf_home / "warehouse.duckdb").exists()  # a fresh install: dbt never ran
    assert apply_yaml(FRESH_DOCS) == 0
    job = load_defs().get_job_def("acme_sales__mail_dashboards")
    result = job.execute_in_process(instance=instance, partition_key="2026-11-30", raise_on_error=False)
    assert result.success

    (message,) = sink.messages()
    assert message["X-Envelope-To"] == "ana@acme.example, cfo@acme.example, ceo@acme.example"
    (attachment,) = list(message.iter_attachments())
    pdf = PdfReader(io.BytesIO(attachment.get_content()))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert len(pdf.pages) == 1
    for shown in ("€1,234.50", "12.5%", "€100.00", "50.0%", "1,235", "Cancelled %", "Last week, 23–29 Nov 2026"):
        assert shown in text
    # The headline numbers are in the body of the mail, not only in the attachment.
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Revenue: €1,234.50" in plain and "Cancelled: 12.5%" in plain
    assert ">€1,234.50<" in html and ">12.5%<" in html and "Last week, 23–29 Nov 2026" in html


def test_a_table_card_before_any_dbt_run_fails_saying_why(
    apply_yaml: ApplyYaml,
    projects: None,
    smtp_sink: StartSink,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
) -> None:
    sink = smtp_sink()
    assert apply_yaml((EXAMPLES_DIR / "dashboards.yaml").read_text()) == 0
    assert apply_yaml(scenario("    format: html")) == 0
    result = run_job(load_defs, instance, "2026-11-16")
    assert not result.success
    (failure,) = events(result, "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    assert "card 'Revenue'" in message and "mart_revenue does not exist" in message
    assert "does not exist yet, so no table can be read: build the dbt models first" in message
    assert sink.messages() == []


@pytest.mark.parametrize(
    ("dashboards", "reason"),
    [
        ("[]", "the step names no dashboards"),
        ("[secret]", "every card of the dashboards is hidden from ana@acme.example, who the report renders as"),
    ],
)
def test_a_report_with_nothing_to_show_is_not_sent(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    dashboards: str,
    reason: str,
) -> None:
    # Nothing listens on the SMTP port: connecting at all would fail the step.
    monkeypatch.setenv("HONEYFRAME_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HONEYFRAME_SMTP_PORT", str(free_port()))
    secret = "kind: Dashboard\nid: secret\nproject: acme-sales\ntitle: Secret\ncards:\n"
    secret += "  - {title: Payroll, display: metric, sql: 'select 1', visible_to: [cfo@acme.example]}\n---\n"
    assert apply_yaml(secret + scenario("").replace("[revenue-overview]", dashboards)) == 0
    result = run_job(load_defs, instance, "2026-11-16")

    assert result.success and not events(result, "STEP_UP_FOR_RETRY")
    metadata = output_metadata(result)
    assert metadata["emails sent"] == 0 and metadata["nothing to send"] == reason
    logs = "\n".join(str(record.user_message) for record in instance.all_logs(result.run_id))
    assert f"nothing to send: {reason}; no e-mail was sent" in logs
    assert "sending" not in logs


def test_a_run_launched_before_an_edit_mails_what_its_version_said(
    apply_yaml: ApplyYaml,
    reporting: Path,
    smtp_sink: StartSink,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
) -> None:
    """The run config a launch gives (the version's, factory/run_config.py) is what the run does: an edit made after
    the launch, before the run starts, changes nothing of it; a re-execution with the same config does it again."""
    from sqlalchemy.orm import Session

    from honeyframe_dagster.factory.run_config import run_config
    from honeyframe_dagster.settings import get_settings
    from honeyframe_dagster.store.engine import get_engine
    from honeyframe_dagster.store.tables import ScenarioRow
    from honeyframe_dagster.store.versions import version_spec

    sink = smtp_sink()
    assert apply_yaml(scenario("    format: html")) == 0
    job = load_defs().get_job_def(JOB)
    with Session(get_engine(get_settings().store_url)) as session:
        scenario_id = session.query(ScenarioRow.id).filter(ScenarioRow.name == "weekly report").scalar()
        launched = version_spec(session, scenario_id, None)
    assert launched is not None and launched.version == 1
    config = run_config(launched)
    # Edited after the launch: other recipients, a PDF.
    edited = scenario("    format: pdf").replace("[ceo@acme.example, cfo@acme.example]", "[intern@acme.example]")
    assert apply_yaml(edited) == 0
    for _ in range(2):  # the run, then a re-execution of it
        result = job.execute_in_process(
            instance=instance,
            run_config=config,
            partition_key="2026-10-05",
            tags={".dagster/honeyframe_version": "1"},
            raise_on_error=False,
        )
        assert result.success
        assert result.dagster_run.tags[".dagster/honeyframe_version"] == "1"
        assert output_metadata(result)["scenario version"] == 1
    messages = sink.messages()
    assert len(messages) == 2
    for message in messages:
        assert message["To"] == "ceo@acme.example, cfo@acme.example" and not list(message.iter_attachments())
    # The job of the new version (a reload) mails the new recipients.
    assert run_job(load_defs, instance, "2026-10-05").success
    newest = sink.messages()[-1]
    assert newest["To"] == "intern@acme.example" and list(newest.iter_attachments())
