"""run_agent in real scenario jobs, against a real chat-completions server on loopback (incl. its errors)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, Definitions

from tests.conftest import ApplyYaml, granting
from tests.steps.support import (
    as_json,
    closed_port_url,
    events,
    failure_text,
    log_messages,
    loopback_server,
    output_metadata,
    query,
    run_scenario,
)

API_KEY = "sk-test-key-0123456789"
WRONG_KEY = "sk-wrong-key-9876543210"
SUBJECTS = [
    "Invoice charged twice",
    "App crashes on login",
    "Refund not received",
    "Export button does nothing",
    "flaky: invoice address",
    "crash the model",
    "Question about discounts",
    "Billing question",
]


class ChatCompletions:
    """An OpenAI-compatible endpoint: labels tickets; 500 on 'crash the model'; 429 once on 'flaky'."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = self.max_active = self.calls = 0
        self.throttled: set[str] = set()

    def __call__(self, request: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, str, bytes]:
        if method != "POST" or request.path != "/v1/chat/completions":
            return as_json(404, {"error": {"message": "no such route"}})
        given = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        if given != API_KEY:
            # Like real providers, the error echoes (part of) the key; the step must not repeat it.
            return as_json(401, {"error": {"message": f"Incorrect API key provided: {given}"}})
        payload = json.loads(body)
        system, user = payload["messages"]
        assert system["role"] == "system" and payload["model"] == "triage-model"
        subject = json.loads(user["content"])["subject"]
        with self.lock:
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(0.1)  # long enough for concurrent requests to overlap
            if subject == "crash the model":
                return as_json(500, {"error": {"message": "model overloaded"}})
            if subject.startswith("flaky") and subject not in self.throttled:
                self.throttled.add(subject)
                return as_json(429, {"error": {"message": "slow down"}})
            label = "billing" if any(w in subject.lower() for w in ("invoice", "refund", "billing")) else "other"
            label = "bug" if "crashes" in subject or "nothing" in subject else label
            return as_json(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": label}}]})
        finally:
            with self.lock:
                self.active -= 1


def agent(base_url_env: str = "HONEYFRAME_SECRET_AGENT_URL", api_key_env: str = "HONEYFRAME_SECRET_AGENT_KEY") -> str:
    return (
        granting("acme-ops", base_url_env, api_key_env)
        + f"""
kind: Agent
id: triage
project: acme-ops
model: triage-model
system_prompt: Label the ticket.
base_url_env: {base_url_env}
api_key_env: {api_key_env}
"""
    )


SCENARIO = """
---
kind: Dataset
id: tickets
project: acme-ops
table: tickets_in
connector: {type: file, path: examples/data/tickets.csv}
---
kind: Scenario
project: acme-ops
name: triage
trigger: {interval_seconds: 3600}
steps:
  - kind: run_agent
    agent: triage
    input: INPUT
    output_table: ticket_labels
"""


@pytest.fixture
def tickets(hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    warehouse = hf_home / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE tickets_in (ticket_id INTEGER, subject VARCHAR)")
        connection.executemany("INSERT INTO tickets_in VALUES (?, ?)", list(enumerate(SUBJECTS, start=1)))
    monkeypatch.setenv("HONEYFRAME_SECRET_AGENT_KEY", API_KEY)
    monkeypatch.setenv("HONEYFRAME_SECRET_WRONG_KEY", WRONG_KEY)
    monkeypatch.setenv("HONEYFRAME_AGENT_CONCURRENCY", "3")
    monkeypatch.setenv("HONEYFRAME_AGENT_BATCH_SIZE", "4")
    monkeypatch.setenv("HONEYFRAME_AGENT_FAILURE_RATIO", "0.2")
    return warehouse


def test_rows_are_labelled_concurrently_failures_recorded_and_reruns_upsert(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    tickets: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = ChatCompletions()
    with loopback_server(server) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_AGENT_URL", f"{url}/v1")
        documents = agent() + SCENARIO.replace("INPUT", "tickets")  # a dataset id: its table is the input
        first = run_scenario(apply_yaml, load_defs, instance, documents, "acme_ops__triage")
        assert first.success
        second = load_defs().get_job_def("acme_ops__triage").execute_in_process(instance=instance)
    assert second.success
    for result in (first, second):
        metadata = output_metadata(result, "step_1_run_agent")
        assert metadata["rows processed"] == 8 and metadata["rows failed"] == 1
        (materialization,) = events(result, "ASSET_MATERIALIZATION", "step_1_run_agent")
        assert materialization.asset_key == AssetKey(["ticket_labels"])
    assert 2 <= server.max_active <= 3  # really concurrent, and bounded by HONEYFRAME_AGENT_CONCURRENCY
    assert server.calls == (8 + 1 + 1) + (8 + 1)  # 8 rows a run; the 500 retried once; the one 429 retried once
    rows = query(tickets, "select input, output, error from ticket_labels order by input")
    assert len(rows) == 8 and len(query(tickets, "select distinct row_key from ticket_labels")) == 8
    by_subject = {json.loads(i)["subject"]: (o, e) for i, o, e in rows}
    assert by_subject["App crashes on login"] == ("bug", None)
    assert by_subject["flaky: invoice address"] == ("billing", None)
    assert by_subject["crash the model"] == (None, "HTTP 500: model overloaded")
    for message in log_messages(instance, first.run_id) + log_messages(instance, second.run_id):
        assert API_KEY not in message


def test_endpoint_errors_fail_the_step_clearly_without_leaking_the_key(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    tickets: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = ChatCompletions()
    with loopback_server(server) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_AGENT_URL", f"{url}/v1")
        scenario = SCENARIO.replace("INPUT", "select ticket_id, subject from tickets_in where ticket_id <= 3")
        wrong_key = run_scenario(
            apply_yaml,
            load_defs,
            instance,
            agent(api_key_env="HONEYFRAME_SECRET_WRONG_KEY") + scenario,
            "acme_ops__triage",
        )
        job = load_defs().get_job_def("acme_ops__triage")

        def failing_run(documents: str) -> tuple[str, list[str]]:
            assert apply_yaml(documents) == 0
            result = job.execute_in_process(instance=instance, raise_on_error=False)
            assert not result.success
            return failure_text(result, "step_1_run_agent"), log_messages(instance, result.run_id)

        assert not wrong_key.success
        text = failure_text(wrong_key, "step_1_run_agent")
        assert "3 of 3 row(s) failed" in text and "HTTP 401" in text
        for message in [text, *log_messages(instance, wrong_key.run_id)]:
            assert WRONG_KEY not in message and API_KEY not in message
        # Failing rows are still recorded, with their (redacted) error.
        assert query(tickets, "select count(*) from ticket_labels where error like 'HTTP 401%***%'") == [(3,)]

        monkeypatch.setenv("HONEYFRAME_SECRET_DOWN_URL", closed_port_url())
        down, _ = failing_run(agent(base_url_env="HONEYFRAME_SECRET_DOWN_URL") + scenario)
        assert "3 of 3 row(s) failed" in down and "ConnectError" in down
        unset, _ = failing_run(agent(base_url_env="HONEYFRAME_SECRET_UNSET_URL") + scenario)
        assert "environment variable HONEYFRAME_SECRET_UNSET_URL is not set" in unset
        # A new input is a new version of the scenario: the job loaded before runs its own; the reloaded one fails.
        bad = agent() + SCENARIO.replace("INPUT", "select no_such_column from tickets_in")
        bad_run = run_scenario(apply_yaml, load_defs, instance, bad, "acme_ops__triage")
        assert not bad_run.success
        bad_input = failure_text(bad_run, "step_1_run_agent")
        assert "input: cannot read 'select no_such_column from tickets_in'" in bad_input
        # A table the project may not read is refused when written, before any run (see test_warehouse_tenancy.py).
        assert apply_yaml(agent() + SCENARIO.replace("INPUT", "select * from no_such_table")) == 1


# Another process writing the warehouse (as a parallel step of another project does) while the agent's input runs.
WRITER = """
import sys, time
from pathlib import Path
from honeyframe_dagster.resources.warehouse_access import write_transaction
time.sleep(float(sys.argv[2]))
with write_transaction(Path(sys.argv[1]), timeout=2.0) as connection:
    connection.execute("CREATE TABLE other_project_rows AS SELECT 42 AS x")
"""


def test_a_slow_input_is_interrupted_at_the_sql_timeout_and_never_blocks_a_writer(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    tickets: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ~15 s on two threads unless stopped; HONEYFRAME_SQL_TIMEOUT_SECONDS stops it after 6 s.
    slow = "select count(*) as n from range(70000) a, range(70000) b where a.range + b.range < 0"
    monkeypatch.setenv("HONEYFRAME_SQL_TIMEOUT_SECONDS", "6")
    server = ChatCompletions()
    with loopback_server(server) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_AGENT_URL", f"{url}/v1")
        assert apply_yaml(agent() + SCENARIO.replace("INPUT", slow)) == 0
        job = load_defs().get_job_def("acme_ops__triage")
        # The writer starts while the query runs and waits at most 2 s for the warehouse.
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tickets), "3"], stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        elapsed = time.monotonic() - started
        _, writer_errors = writer.communicate(timeout=60)
    assert not result.success
    text = failure_text(result, "step_1_run_agent")
    assert "stopped after 6 s (HONEYFRAME_SQL_TIMEOUT_SECONDS=6)" in text
    assert elapsed < 12 and server.calls == 0
    assert writer.returncode == 0, writer_errors
    assert query(tickets, "select x from other_project_rows") == [(42,)]
    # The query ran on a snapshot that is gone with the step.
    assert [p.name for p in tickets.parent.iterdir() if ".snapshot-" in p.name] == []


def test_an_input_with_more_rows_than_the_cap_fails_before_any_call(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    tickets: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = ChatCompletions()
    with loopback_server(server) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_AGENT_URL", f"{url}/v1")
        monkeypatch.setenv("HONEYFRAME_AGENT_MAX_ROWS", "7")  # tickets_in holds 8 rows
        documents = agent() + SCENARIO.replace("INPUT", "select range as n from range(300)")
        too_many = run_scenario(apply_yaml, load_defs, instance, documents, "acme_ops__triage")
        assert not too_many.success
        assert "more than 7 rows (HONEYFRAME_AGENT_MAX_ROWS=7)" in failure_text(too_many, "step_1_run_agent")
        dataset = run_scenario(
            apply_yaml, load_defs, instance, agent() + SCENARIO.replace("INPUT", "tickets"), "acme_ops__triage"
        )
        assert "more than 7 rows" in failure_text(dataset, "step_1_run_agent")
        assert server.calls == 0
        monkeypatch.setenv("HONEYFRAME_AGENT_MAX_ROWS", "8")
        exactly = load_defs().get_job_def("acme_ops__triage").execute_in_process(instance=instance)
    assert exactly.success and output_metadata(exactly, "step_1_run_agent")["rows processed"] == 8
