"""The report's parts without Dagster: time filters, bind parameters, read-only card queries, the mail sink."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from PIL import Image
from pypdf import PdfReader

from honeyframe_dagster.model.documents import Dashboard
from honeyframe_dagster.model.steps import TimeRange
from honeyframe_dagster.reports.charts import build_chart
from honeyframe_dagster.reports.data import ReportError, bind_parameters, load_dashboards
from honeyframe_dagster.reports.formatting import format_axis, format_value, heading
from honeyframe_dagster.reports.pdf import render_pdf
from honeyframe_dagster.reports.render import Report
from honeyframe_dagster.reports.time_filters import Period, relative_period, resolve_period
from honeyframe_dagster.resources.warehouse_access import SqlLimits

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
    assert january.describe() == "Last month, 1–31 Dec 2026"
    explicit = TimeRange(
        start=dt.datetime(2026, 11, 1, tzinfo=ZoneInfo("UTC")), end=dt.datetime(2026, 11, 8, tzinfo=ZoneInfo("UTC"))
    )
    berlin = resolve_period(explicit, sunday_night_utc, "Europe/Berlin")
    assert (berlin.start, berlin.end) == (dt.datetime(2026, 11, 1, 1), dt.datetime(2026, 11, 8, 1))


@pytest.mark.parametrize(
    ("name", "reference", "described"),
    [
        ("last_week", dt.datetime(2026, 11, 30, 8), "Last week, 23–29 Nov 2026"),
        ("month_to_date", dt.datetime(2026, 12, 15, 8), "Month to date, 1–15 Dec 2026"),
        ("yesterday", dt.datetime(2026, 12, 1, 6), "Yesterday, 30 Nov 2026"),
        ("last_30_days", dt.datetime(2026, 11, 30, 8), "Last 30 days, 31 Oct – 29 Nov 2026"),
        ("last_7_days", dt.datetime(2027, 1, 3, 8), "Last 7 days, 27 Dec 2026 – 2 Jan 2027"),
        ("today", dt.datetime(2026, 11, 30, 8), "Today, 30 Nov 2026"),
    ],
)
def test_periods_read_as_their_name_and_days(name: str, reference: dt.datetime, described: str) -> None:
    assert relative_period(name, reference).describe() == described


def test_an_explicit_period_off_midnight_reads_with_its_times() -> None:
    period = Period(dt.datetime(2026, 11, 1, 1), dt.datetime(2026, 11, 8, 1), "explicit")
    assert period.describe() == "Custom period, 1 Nov 2026 01:00 – 8 Nov 2026 01:00"


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (1234.5, "currency:EUR", "€1,234.50"),
        (Decimal("-1234.5"), "currency:USD", "-$1,234.50"),
        (1234.5, "currency:GBP", "£1,234.50"),
        (1234.5, "currency:JPY", "¥1,235"),
        (1234.5, "currency:CHF", "CHF 1,234.50"),
        (1234.5, "currency:SEK", "SEK 1,234.50"),
        (-0.001, "currency:EUR", "€0.00"),
        (0.125, "percent", "12.5%"),
        (0.5, "percent", "50.0%"),
        (1234.5, "integer", "1,235"),
        (2.5, "integer", "3"),
        (1234.5678, "decimal:2", "1,234.57"),
        (1234, "decimal:0", "1,234"),
        (None, "percent", "—"),
        ("north", "currency:EUR", "north"),
        (dt.date(2026, 11, 9), "integer", "2026-11-09"),
    ],
)
def test_value_formats(value: object, fmt: str, text: str) -> None:
    assert format_value(value, fmt) == text


def test_axis_labels_and_headings_read_as_people_write_them() -> None:
    assert [format_axis(v, "currency:EUR") for v in (0, 1500, 2_500_000)] == ["€0", "€1.5k", "€2.5M"]
    assert [format_axis(v, "percent") for v in (0, 0.2, 0.125)] == ["0%", "20%", "12.5%"]
    assert format_axis(-1500) == "-1.5k"
    assert [heading(c) for c in ("cancelled_pct", "order_date", "revenue", "pct")] == [
        "Cancelled %",
        "Order date",
        "Revenue",
        "Pct",
    ]


def test_a_chart_is_a_png_for_mail_and_an_svg_for_the_archive_with_formatted_labels() -> None:
    rows = [("north", 1200.0, 0.1), ("east & <west>", 800.0, 0.25)]
    chart = build_chart("bar", "By region", ("region", "revenue", "share"), rows, [None, "currency:EUR", "percent"])
    assert chart is not None
    svg = chart.svg()
    assert "€1.2k" in svg and "25%" in svg and "east &amp; &lt;west&gt;" in svg
    assert 'aria-label="By region: bar chart of Revenue, Share by Region"' in svg
    png = chart.png()
    with Image.open(io.BytesIO(png)) as image:
        assert (image.format, image.size) == ("PNG", (1200, 480))
        # Drawn, not blank: the bars' blue (#3b6ea5) is there.
        colors = {color for _, color in image.convert("RGB").getcolors(1 << 20) or []}
        assert (0x3B, 0x6E, 0xA5) in colors
    assert build_chart("line", "Empty", ("day", "name"), [("d", "x")], [None, None]) is None


def _dashboard(dashboard_id: str, title: str, cards: list[dict]) -> Dashboard:
    return Dashboard.model_validate({"id": dashboard_id, "project": "p", "title": title, "cards": cards})


def test_the_pdf_keeps_small_cards_with_their_neighbours_instead_of_leaving_near_empty_pages(tmp_path: Path) -> None:
    series = "select date '2026-11-01' + i::int as day, 100 + 7 * (i % 5) as revenue from range(30) r(i)"
    regions = "select * from (values ('north', 4, 0.125), ('south', 6, 0.25), ('east', 4, 0.5), ('west', 7, 0.0))"
    sales = _dashboard(
        "sales",
        "Revenue overview",
        [
            {"title": "Revenue", "display": "metric", "format": "currency:EUR", "sql": "select 5049.73"},
            {"title": "Orders", "display": "metric", "sql": "select 21"},
            {"title": "Revenue by day", "display": "bar", "sql": series},
            {"title": "Daily revenue", "display": "line", "sql": series},
            {"title": "Daily revenue again", "display": "line", "sql": series},
            {"title": "Regions", "display": "table", "formats": {"rate": "percent"}, "sql": regions + " t(r, n, rate)"},
        ],
    )
    health = _dashboard(
        "health",
        "Pipeline health",
        [
            {"title": "Orders placed", "display": "metric", "sql": "select 24 as orders"},
            {"title": "Orders per day", "display": "line", "sql": series},
        ],
    )
    period = relative_period("last_week", dt.datetime(2026, 11, 16, 7))
    loaded = load_dashboards(tmp_path / "none.duckdb", [(sales, period), (health, period)], "ana@acme.example")
    report = Report("Acme: weekly", "Acme", dt.datetime(2026, 11, 16, 7), "UTC", "ana@acme.example", loaded)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(render_pdf(report))).pages]
    # The 4-row table no longer sits alone on a page: the next dashboard follows it there, its title kept
    # with its first row of cards; every page holds several cards.
    assert len(pages) == 2
    assert "Regions" in pages[1] and "12.5%" in pages[1] and "Pipeline health" in pages[1]
    assert "Orders placed" in pages[1] and "Last week, 9–15 Nov 2026" in pages[1]
    titles = [card.title for dashboard in (sales, health) for card in dashboard.cards]
    assert all(sum(title in page for title in titles) >= 3 for page in pages)


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


def test_card_sql_stops_at_the_time_and_memory_limits_naming_the_setting(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create table t as select 1 as v")
    slow = "select count(*) from range(100000) a, range(100000) b where a.range + b.range < 0"  # minutes unstopped
    hungry = "select list(range) from range(50000000)"
    dashboard = Dashboard.model_validate(
        {"id": "d", "project": "p", "title": "D", "cards": [{"title": "Slow", "display": "metric", "sql": slow}]}
    )
    period = relative_period("last_7_days", dt.datetime(2026, 11, 12))
    limits = SqlLimits(timeout_seconds=1.5, memory_limit="64MB")
    started = time.monotonic()
    with pytest.raises(ReportError, match=r"card 'Slow': the query was stopped after 1.5 s \(HONEYFRAME_SQL_TIMEOUT"):
        load_dashboards(warehouse, [(dashboard, period)], "ana@acme.example", limits=limits)
    assert time.monotonic() - started < 10
    dashboard.cards[0].sql = hungry
    with pytest.raises(ReportError, match="needs more memory than HONEYFRAME_SQL_MEMORY_LIMIT=64MB"):
        load_dashboards(warehouse, [(dashboard, period)], "ana@acme.example", limits=limits)
    assert not [p for p in tmp_path.iterdir() if ".snapshot-" in p.name]  # the snapshot is gone


def test_before_the_first_dbt_run_cards_without_tables_work_and_table_cards_fail_clearly(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"  # does not exist yet
    dashboard = Dashboard.model_validate(
        {
            "id": "d",
            "project": "p",
            "title": "D",
            "cards": [{"title": "One", "display": "metric", "sql": "select 1 as x"}],
        }
    )
    period = relative_period("last_7_days", dt.datetime(2026, 11, 12))
    (loaded,) = load_dashboards(warehouse, [(dashboard, period)], "ana@acme.example")
    assert loaded.cards[0].rows == [(1,)]
    # In memory, card SQL cannot reach files either (the SQL policy refuses it before the sandbox would).
    dashboard.cards[0].sql = "select * from read_csv('/etc/passwd')"
    with pytest.raises(ReportError, match="card 'One': table function 'read_csv' is not allowed$"):
        load_dashboards(warehouse, [(dashboard, period)], "ana@acme.example")
    dashboard.cards[0].sql = "select sum(amount) from mart_revenue"
    with pytest.raises(ReportError, match=r"(?s)mart_revenue does not exist.*does not exist yet, so no table"):
        load_dashboards(warehouse, [(dashboard, period)], "ana@acme.example")
    assert not warehouse.exists()


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
