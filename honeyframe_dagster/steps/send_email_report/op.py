"""`send_email_report`: render dashboards as the scenario's owner for the run's scheduled period, then e-mail them."""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from dagster import (
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
)

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.model.tags import SCHEDULED_FOR_TAG
from honeyframe_dagster.reports.data import load_dashboards
from honeyframe_dagster.reports.mail import Attachment, DeliveryError, check_address, check_header, compose
from honeyframe_dagster.reports.notice import failure_notice
from honeyframe_dagster.reports.render import Report, cover_html, cover_text, render_html, render_text
from honeyframe_dagster.reports.time_filters import resolve_period
from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.resources.warehouse import WarehouseResource
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.context import StepRun, current_step, step_op
from honeyframe_dagster.steps.entry import StepOp
from honeyframe_dagster.steps.send_email_report.model import SendEmailReportStep
from honeyframe_dagster.steps.send_email_report.resource import MailResource, mail_resource


def scheduled_time(context: OpExecutionContext, timezone: str) -> dt.datetime:
    """When this run was scheduled for, in the scenario's timezone; a report's period ends there.

    The `honeyframe/scheduled_for` tag (the trigger's instant; for a run-now the moment it was asked for, so the
    period runs up to then), else the partition's instant (backfills, launches from Dagster's UI), else the
    run's creation."""
    zone = ZoneInfo(timezone)
    tagged = context.run.tags.get(SCHEDULED_FOR_TAG)
    if tagged:
        return dt.datetime.fromisoformat(tagged).astimezone(zone)
    if context.has_partition_key:
        return context.partition_time_window.start.astimezone(zone)
    record = context.instance.get_run_record_by_id(context.run_id)
    created = record.create_timestamp if record is not None else utcnow()
    return (created if created.tzinfo else created.replace(tzinfo=dt.UTC)).astimezone(zone)


def pdf_of(report: Report) -> bytes:
    # fpdf costs half a second to import: only the runs that attach a PDF pay it.
    from honeyframe_dagster.reports.pdf import render_pdf

    return render_pdf(report)


def build_report(
    run: StepRun[SendEmailReportStep], scheduled: dt.datetime, warehouse: WarehouseResource, readable: frozenset[str]
) -> Report:
    """The report's data, its card SQL reading only `readable` tables (the project's own and the dbt project's)."""
    spec, step = run.scenario, run.step
    dashboards = [run.catalog.dashboards[(spec.project.id, dashboard_id)] for dashboard_id in step.dashboard_ids]
    periods = [
        (d, resolve_period(step.time_filter or d.default_time_filter, scheduled, spec.timezone)) for d in dashboards
    ]
    loaded = load_dashboards(
        warehouse.path, periods, spec.owner, readable, warehouse.sql_limits, warehouse.lock_timeout_seconds
    )
    title = " · ".join(d.title for d in dashboards) or spec.record.name
    return Report(f"{spec.project.name}: {title}", spec.project.name, scheduled, spec.timezone, spec.owner, loaded)


def nothing_to_send(
    context: OpExecutionContext, step: SendEmailReportStep, report: Report, scheduled: dt.datetime
) -> Output[None]:
    """A report without a card is not sent: no dashboards, or every card hidden from the owner it renders as.

    The step succeeds (nothing failed) and says so in its log and metadata; no SMTP connection is made.
    """
    hidden = sum(d.hidden for d in report.dashboards)
    if not step.dashboard_ids:
        reason = "the step names no dashboards"
    elif hidden:
        reason = f"every card of the dashboards is hidden from {report.viewer}, who the report renders as"
    else:
        reason = "the dashboards have no cards"
    context.log.info(f"nothing to send: {reason}; no e-mail was sent")
    return Output(
        None,
        metadata={
            "emails sent": 0,
            "nothing to send": MetadataValue.text(reason),
            "dashboards": MetadataValue.text(", ".join(step.dashboard_ids) or "(none)"),
            "cards hidden from owner": hidden,
            "scheduled for": MetadataValue.text(scheduled.isoformat()),
        },
    )


def save(report_dir: Path, files: dict[str, bytes]) -> Path:
    """Keep what was sent under HONEYFRAME_HOME/reports/<run id>/, for the run's metadata and for support."""
    report_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (report_dir / name).write_bytes(content)
    return report_dir


def send_failure_notice(
    context: OpExecutionContext, run: StepRun[SendEmailReportStep], mail: MailResource
) -> Output[None]:
    """After a failure (a step under `run_if: failure`, or `always` in a run where a step failed): the recipients
    get what failed instead of the dashboards (steps/run_if.py; error texts have secrets masked)."""
    step, spec = run.step, run.scenario
    failures = [f.public() for f in run.failures]
    notice = failure_notice(spec.project.name, spec.record.name, context.run_id, failures, step.subject)
    try:
        message = compose(mail.sender, step.recipients, notice.subject, notice.text, notice.html)
    except ValueError as exc:
        raise Failure(f"send_email_report (step {run.index + 1}): {exc}", allow_retries=False) from None
    try:
        refused = mail.send(message, step.recipients)
    except DeliveryError as exc:
        raise Failure(str(exc)) from None
    context.log.info(
        f"sent what failed ({len(failures)} step(s)) to {len(step.recipients) - len(refused)} recipient(s)"
    )
    return Output(None, metadata={"emails sent": 1, "failure notice": True, "failed steps": len(failures)})


@step_op("send_email_report", "email")
def send_email_report_op(
    context: OpExecutionContext, scenarios: ScenarioStoreResource, warehouse: WarehouseResource, mail: MailResource
) -> Output[None]:
    """Retries (the step's `retry`, default 3 × exponential: factory/jobs.py) re-run the whole op, render and send;
    only delivery failures are retried (see `Failure(allow_retries)`)."""
    run = current_step(context, scenarios, SendEmailReportStep)
    step = run.step
    if run.failures and step.condition != "success":
        return send_failure_notice(context, run, mail)
    scheduled = scheduled_time(context, run.scenario.timezone)
    try:
        # The model checked these on apply; checked again here because they become headers (compose checks the rest).
        for index, recipient in enumerate(step.recipients):
            check_address(f"recipients[{index}]", recipient)
        if step.subject is not None:
            check_header("subject", step.subject)
        report = build_report(run, scheduled, warehouse, scenarios.readable_tables(run.scenario.project.id))
        if report.card_count == 0:
            return nothing_to_send(context, step, report, scheduled)
        smtp = mail.smtp_settings()
        subject = step.subject or f"{report.title} — {scheduled:%Y-%m-%d}"
        # Mail clients get charts as PNG parts; the archived copy keeps them as SVG, in one self-contained file.
        archived, _ = render_html(report)
        stem = f"report-{scheduled:%Y-%m-%d}"
        if step.format == "pdf":
            attachment: Attachment | None = Attachment(f"{stem}.pdf", pdf_of(report))
            images: list[Attachment] = []
            body_html = cover_html(report, f"{stem}.pdf")
            body_text = cover_text(report, f"{stem}.pdf")
        else:
            attachment = None
            (body_html, images), body_text = render_html(report, inline_images=True), render_text(report)
        message = compose(mail.sender, step.recipients, subject, body_text, body_html, attachment, images)
    except ValueError as exc:  # HeaderError, ReportError, bad settings: retrying would not help
        raise Failure(f"send_email_report (step {run.index + 1}): {exc}", allow_retries=False) from None
    files = {f"{stem}.html": archived.encode()} | ({attachment.filename: attachment.content} if attachment else {})
    saved = save(get_settings().home_dir / "reports" / context.run_id, files)
    context.log.info(
        f"attempt {context.retry_number + 1}: sending '{subject}' to {len(step.recipients)} recipient(s) "
        f"via {smtp.where}"
    )
    try:
        refused = mail.send(message, step.recipients)
    except DeliveryError as exc:
        raise Failure(str(exc)) from None
    for who, reply in refused.items():
        context.log.warning(f"recipient {who} refused by the SMTP server: {reply}")
    return Output(
        None,
        metadata={
            "emails sent": 1,
            "recipients": len(step.recipients) - len(refused),
            "recipients refused": len(refused),
            "format": step.format,
            "dashboards": MetadataValue.text(", ".join(step.dashboard_ids) or "(none)"),
            "cards rendered": report.card_count,
            "cards hidden from owner": sum(d.hidden for d in report.dashboards),
            "period": MetadataValue.text("; ".join(d.period.describe() for d in report.dashboards) or "-"),
            "scheduled for": MetadataValue.text(scheduled.isoformat()),
            "report": MetadataValue.path(str(saved)),
        },
    )


OP = StepOp(send_email_report_op, {"mail": mail_resource})
