"""The report's parts without Dagster: time filters, bind parameters, read-only card queries, the mail sink."""

from __future__ import annotations

import datetime as dt
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from honeyframe_dagster.model.documents import Dashboard
from honeyframe_dagster.model.steps import TimeRange
from honeyframe_dagster.reports.data import ReportError, bind_parameters, load_dashboards
from honeyframe_dagster.reports.time_filters import relative_period, resolve_period

WEDNESDAY = dt.datetime(2026, 11, 18, 14, 30)


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("today", dt.datetime(2026, 11, 18), dt.datetime(2026, 11, 19)),
        ("yesterday", dt.datetime(2026, 11, 17), dt.datetime(2026, 11, 18)),
        ("last_7_days", dt.datetime(2026, 11, 11), dt.datetime(2026, 11, 18)),
        ("last_30_days", dt.datetime(2026, 10, 19), dt.datetime(2026, 11, 18)),
        ("last_week", dt.datetime(2026, 11, 9), dt.datetime(2026, 11, 16)),
        ("last_month", dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 1)),
        ("week_to_date", dt.datetime(2026, 11, 16), WEDNESDAY),
        ("month_to_date", dt.datetime(2026, 11, 1), WEDNESDAY),
        ("year_to_date", dt.datetime(2026, 1, 1), WEDNESDAY),
    ],
)
def test_relative_filters_around_a_wednesday_afternoon(name: str, start: dt.datetime, end: dt.datetime) -> None:
    period = relative_period(name, WEDNESDAY)
    assert (period.start, period.end, period.label) == (start, end, name)


def test_periods_follow_the_scenario_timezone_and_cross_year_ends() -> None:
    # Sunday 23:30 UTC is already Monday morning in Jakarta: "last week" is the week that just ended there.
    sunday_night_utc = dt.datetime(2026, 11, 15, 23, 30, tzinfo=dt.UTC)
    jakarta = resolve_period("last_week", sunday_night_utc, "Asia/Jakarta")
    assert (jakarta.start, jakarta.end) == (dt.datetime(2026, 11, 9), dt.datetime(2026, 11, 16))
    utc = resolve_period("last_week", sunday_night_utc, "UTC")
    assert (utc.start, utc.end) == (dt.datetime(2026, 11, 2), dt.datetime(2026, 11, 9))
    january = relative_period("last_month", dt.datetime(2027, 1, 4, 8))
    assert (january.start, january.end) == (dt.datetime(2026, 12, 1), dt.datetime(2027, 1, 1))
    assert january.describe() == "2026-12-01 – 2026-12-31 (last_month)"
    explicit = TimeRange(
        start=dt.datetime(2026, 11, 1, tzinfo=ZoneInfo("UTC")), end=dt.datetime(2026, 11, 8, tzinfo=ZoneInfo("UTC"))
    )
    berlin = resolve_period(explicit, sunday_night_utc, "Europe/Berlin")
    assert (berlin.start, berlin.end) == (dt.datetime(2026, 11, 1, 1), dt.datetime(2026, 11, 8, 1))


def test_only_real_bind_parameters_are_rewritten() -> None:
    sql = (
        "select ':start' as s, x::date, \"a:end\", :started -- :start\n"
        "from t where d >= :start and d < :end /* :end */ and e <> ':end''s'"
    )
    rewritten, used = bind_parameters(sql)
    assert rewritten == (
        "select ':start' as s, x::date, \"a:end\", :started -- :start\n"
        "from t where d >= $start and d < $end /* :end */ and e <> ':end''s'"
    )
    assert used == ["start", "end"]


def test_card_sql_reads_the_warehouse_but_cannot_change_it(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create table t as select date '2026-11-10' as d, 5 as v")
    dashboard = Dashboard.model_validate(
        {
            "id": "d",
            "project": "p",
            "title": "D",
            "cards": [
                {"title": "Sum", "display": "metric", "sql": "select sum(v) from t where d >= :start and d < :end"},
                {"title": "Wipe", "display": "table", "sql": "drop table t"},
            ],
        }
    )
    period = relative_period("last_7_days", dt.datetime(2026, 11, 12))
    with pytest.raises(ReportError, match="dashboard 'd', card 'Wipe': .*read-only"):
        load_dashboards(warehouse, [(dashboard, period)], "ana@acme.example")
    dashboard.cards.pop()
    (loaded,) = load_dashboards(warehouse, [(dashboard, period)], "ana@acme.example")
    assert loaded.cards[0].rows == [(5,)]


def test_mailsink_command_stores_messages_as_eml_and_stops_on_sigterm(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tmp_path / "mail"
    honeyframe = Path(sys.executable).with_name("honeyframe")
    env = {**os.environ, "HONEYFRAME_HOME": str(tmp_path / "home")}
    sink = subprocess.Popen([str(honeyframe), "mailsink", "--port", str(port), "--dir", str(directory)], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline and sink.poll() is None, "the mail sink did not start"
                time.sleep(0.1)
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = "hello", "a@acme.example", "b@acme.example"
        message.set_content("body")
        with client:
            client.send_message(message, to_addrs=["b@acme.example", "hidden@acme.example"])
        (stored,) = directory.glob("*.eml")
        content = stored.read_text()
        assert "X-Envelope-To: b@acme.example, hidden@acme.example" in content and "Subject: hello" in content
    finally:
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(timeout=15) == 0
