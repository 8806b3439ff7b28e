from __future__ import annotations
import json
from tests.api.conftest import Api

BASE = "/api/scheduler/scenarios"

def good(**over):
    b = {"name": "n1", "trigger": {"interval_seconds": 3600}, "steps": [{"kind": "run_recipe", "recipe": "mart_revenue"}]}
    b.update(over); return b

def test_probe(api: Api) -> None:
    r = api.call("POST", BASE, json=good(name="base")); sid = r.json()["id"]
    bodies = [
        good(name="a\x00b"), good(name="\u202e"), good(name=" "), good(name="x" * 100000), good(name=123), good(name=None),
        good(trigger={"interval_seconds": 1e400}), good(trigger={"interval_seconds": -1}), good(trigger={"interval_seconds": 2**70}),
        good(trigger={"interval_seconds": 60.5}), good(trigger={"interval_seconds": "60"}), good(trigger={"interval_seconds": True}),
        good(trigger={"cron": "* * * * * * *"}), good(trigger={"cron": "0 0 31 2 *"}), good(trigger={"cron": "@reboot"}), good(trigger={"cron": "0 0 * * *", "timezone": "../../etc/passwd"}),
        good(trigger={"cron": "0 0 * * *", "timezone": "Europe/Berlin\x00"}), good(trigger={"cron": "0\x000 * * *"}), good(trigger={"cron": "0 0 * * *" + " " * 10000}),
        good(trigger={"upstream": {"scenarios": ["base", "base"]}}), good(trigger={"upstream": {"scenarios": ["n1"]}}),
        good(steps=[{"kind": "run_python", "recipe": "../../etc/passwd"}]), good(steps=[{"kind": "run_python", "recipe": "pause", "timeout_seconds": 1e12}]),
        good(steps=[{"kind": "run_python", "recipe": "pause", "args": {"a": float("nan")}}]) , good(steps=[{"kind": "run_python", "recipe": "pause", "secrets": ["HONEYFRAME_SECRET_X\n"]}]),
        good(steps=[{"kind": "run_python", "recipe": "pause", "secrets": ["HONEYFRAME_DATABASE_URL"]}]), good(steps=[{"kind": "run_python", "recipes": ["pause", "pause"]}]),
        good(steps=[{"kind": "notify_webhook", "url_env": "HONEYFRAME_SMTP_PASSWORD"}]), good(steps=[{"kind": "notify_webhook", "url_env": "honeyframe_secret_x"}]),
        good(steps=[{"kind": "send_email_report", "dashboard_ids": ["revenue-overview"], "recipients": ["a@b.c\r\nBcc: x@y.z"], "subject": "s"}]),
        good(steps=[{"kind": "send_email_report", "dashboard_ids": ["revenue-overview"], "recipients": ["a@b.c"], "subject": "s\u2028x"}]),
        good(steps=[{"kind": "run_agent", "agent": "ticket-triage", "input": "select 1", "output_table": "main.x"}]),
        good(steps=[{"kind": "run_agent", "agent": "ticket-triage", "input": "select 1", "output_table": "\"x\""}]),
        good(steps=[{"kind": "run_agent", "agent": "ticket-triage", "input": "select 1", "output_table": "orders_2; drop"}]),
        good(steps=[{"kind": "run_agent", "agent": "ticket-triage", "input": "select 1", "output_table": "sqlite_master"}]),
        good(steps=[{"kind": "run_agent", "agent": "ticket-triage", "input": "select 1", "output_table": "duckdb_tables"}]),
        good(steps=[{"kind": "run_agent", "agent": "ticket-triage", "input": "select 1", "output_table": "information_schema"}]),
        good(steps=[{"kind": "run_agent", "agent": "ticket-triage", "input": "select 1", "output_table": "LABELS"}, {"kind": "run_agent", "agent": "ticket-triage", "input": "select 1", "output_table": "labels"}]),
        good(steps=[{"kind": "run_agent", "agent": "ticket-triage", "input": "select (:start$), ' $start$, (select 1), $start) as b --'", "output_table": "x"}]),
        good(owner="a@b.c\n"), good(enabled="yes"), good(extra=1),
    ]
    for b in bodies:
        r = api.call("POST", BASE, token="sales", content=json.dumps(b), headers={"Content-Type": "application/json"})
        print("POST", r.status_code, json.dumps(b)[:160], "=>", r.text[:220])
        if r.status_code == 201:
            api.call("DELETE", f"{BASE}/{r.json()['id']}")
    deep = "[" * 10000 + "]" * 10000
    for raw, ct in [(deep, "application/json"), ('{"name": "x"', "application/json"), ("{}", "text/plain"), ("{}", "application/x-www-form-urlencoded"), ("{}", "application/json; charset=latin-1"), (b"\xff\xfe", "application/json"), ("", "application/json"), ("null", "application/json"), ("[]", "application/json"), ('"x"', "application/json"), ('{"name":"a","name":"b"}', "application/json"), ("{}", "application/jsonx"), ("{}", "application/vnd+json"), ("{}", None)]:
        h = {"Content-Type": ct} if ct else {}
        r = api.call("POST", BASE, token="sales", content=raw, headers=h)
        print("RAW", ct, repr(raw[:30]), r.status_code, r.text[:200])
        r = api.call("PATCH", f"{BASE}/{sid}", token="sales", content=raw, headers=h)
        print("RAWPATCH", ct, repr(raw[:30]), r.status_code, r.text[:200])
    for i in ["0", "-1", "9223372036854775807", "9223372036854775808", "1e3", "01", "%201", "1.0", "+1", "0x1", "１", "NaN", str(sid) + "%00"]:
        for m, suffix in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/ticks"), ("GET", "/runs"), ("POST", "/run")]:
            kw = {"json": {"name": "z"}} if m == "PATCH" else {}
            r = api.call(m, f"{BASE}/{i}{suffix}", token="sales", **kw)
            if r.status_code >= 500 or r.status_code == 200: print("ID", m, i, suffix, r.status_code, r.text[:150])
    for q in ["page=0", "page=99999999999999999999", "page_size=100000", "page=1e3", "page=-1", "limit=99999999999", "offset=-1", "enabled=maybe", "cursor=%00"]:
        r = api.call("GET", f"{BASE}?{q}", token="sales"); print("Q", q, r.status_code, r.text[:120])
        r = api.call("GET", f"{BASE}/{sid}/ticks?{q}", token="sales"); print("QT", q, r.status_code, r.text[:120])
    for p in [" acme-sales", "acme-sales ", "acme-sales\t", "acme–sales", "ACME-SALES", "acme-sales\x00"]:
        try:
            r = api.call("GET", BASE, token="admin", project=p); print("PROJ", repr(p), r.status_code, r.text[:120])
        except Exception as e: print("PROJ", repr(p), "client error", e)
    for t in ["", "x", "hft_", "Bearer", "a" * 10000, "hft_\x00"]:
        try:
            r = api.call("GET", BASE, token=t); print("TOK", repr(t[:10]), r.status_code, r.text[:100])
        except Exception as e: print("TOK", repr(t[:10]), "client error", e)
    assert False
