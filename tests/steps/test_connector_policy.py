"""Connectors and secrets (issue 9): every attack is refused at `apply` naming the field, or fails safe at run time."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions

from honeyframe_dagster import net_policy
from tests.conftest import ApplyYaml, granting
from tests.steps.support import (
    Handler,
    as_json,
    failure_text,
    log_messages,
    loopback_server,
    output_metadata,
    run_scenario,
)


def dataset(connector: str, dataset_id: str = "feed") -> str:
    return f"""
kind: Dataset
id: {dataset_id}
project: acme-ops
connector: {connector}
"""


def scenario(name: str, *steps: str) -> str:
    lines = "\n".join(f"  - {step}" for step in steps)
    return f"""
---
kind: Scenario
project: acme-ops
name: {name}
trigger: {{interval_seconds: 3600}}
steps:
{lines}
"""


def refused(apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str], documents: str) -> str:
    """Apply must fail and write nothing; returns its error output."""
    capsys.readouterr()
    assert apply_yaml(documents) == 1
    err = capsys.readouterr().err
    assert "nothing was applied" in err
    return err


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "no absolute path"),
        ("~/secrets.csv", "no '~'"),
        ("../outside.csv", "'..' component"),
        ("examples/../../etc/*.csv", "'..' component"),
        ("C:/Windows/win.ini", "no absolute path"),
    ],
)
def test_file_paths_that_leave_the_data_dir_are_refused_at_apply(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str], path: str, message: str
) -> None:
    err = refused(apply_yaml, capsys, dataset(f"{{type: file, path: '{path}'}}"))
    assert "connector.path" in err and message in err


def test_symlinks_out_of_the_data_dir_fail_the_run_and_load_nothing(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "host.csv").write_text("secret\nroot:x:0:0\n")
    (data / "fine.csv").write_text("n\n1\n")
    (data / "escape.csv").symlink_to(outside / "host.csv")
    (data / "sub" / "linked").symlink_to(outside, target_is_directory=True)
    (data / "inside.csv").symlink_to(data / "fine.csv")  # a symlink that stays inside is fine
    monkeypatch.setenv("HONEYFRAME_DATA_DIR", str(data))
    for name, path in [("direct", "escape.csv"), ("globbed", "*.csv"), ("through-dir", "sub/linked/host.csv")]:
        documents = dataset(f"{{type: file, path: '{path}'}}", name) + scenario(
            name, f"{{kind: sync_dataset, dataset: {name}}}"
        )
        result = run_scenario(apply_yaml, load_defs, instance, documents, f"acme_ops__{name.replace('-', '_')}")
        assert not result.success
        text = failure_text(result, "step_1_sync_dataset")
        assert "leads outside HONEYFRAME_DATA_DIR" in text and "root:x" not in text
    documents = dataset("{type: file, path: inside.csv}", "inside") + scenario(
        "inside", "{kind: sync_dataset, dataset: inside}"
    )
    assert run_scenario(apply_yaml, load_defs, instance, documents, "acme_ops__inside").success


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://2130706433/x",  # 127.0.0.1 as one number
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://100.64.0.1/x",  # CGNAT
        "http://[::1]/x",
        "http://[::ffff:10.0.0.1]/x",
        "http://0.0.0.0/x",
        "http://224.0.0.1/x",
    ],
)
def test_non_public_literal_hosts_are_refused_at_apply_without_an_allowlist(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.delenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS")
    err = refused(apply_yaml, capsys, dataset(f"{{type: http, url: '{url}'}}"))
    assert "connector.url" in err and "host '" in err


def test_the_allowlist_decides_which_hosts_apply_accepts(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", "*.example.com, files.example.org, 169.254.*")
    assert apply_yaml(dataset("{type: http, url: 'https://data.eu.example.com/x.csv'}")) == 0
    assert apply_yaml(dataset("{type: http, url: 'https://FILES.example.org/x.csv'}")) == 0
    err = refused(apply_yaml, capsys, dataset("{type: http, url: 'https://example.net/x.csv'}"))
    assert "connector.url" in err and "not in HONEYFRAME_CONNECTOR_ALLOWED_HOSTS" in err
    # A glob never opens the metadata service: only a literal entry does.
    err = refused(apply_yaml, capsys, dataset("{type: http, url: 'http://169.254.169.254/latest'}"))
    assert "connector.url" in err and "metadata" in err
    monkeypatch.delenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS")
    assert apply_yaml(dataset("{type: http, url: 'https://data.example.com/x.csv'}")) == 0  # public: fine


def test_credentials_in_a_refused_url_are_not_echoed(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS")
    err = refused(
        apply_yaml, capsys, dataset("{type: http, url: 'http://ana:hunter2@10.0.0.7/x.csv?token=s3cr3t-tok'}")
    )
    assert "connector.url" in err and "hunter2" not in err and "s3cr3t-tok" not in err
    assert net_policy.redact_url("https://u:p@h.example/a?token=abc&x=1#f") == "https://h.example/a?token=***&x=***"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (dataset("{type: sql, url_env: HONEYFRAME_DATABASE_URL, query: 'select 1'}"), "connector.url_env"),
        (dataset("{type: sql, url_env: PATH, query: 'select 1'}"), "connector.url_env"),
        (dataset("{type: platform, dataset_id: d, base_url_env: HONEYFRAME_SMTP_PASSWORD}"), "connector.base_url_env"),
        (
            "kind: Agent\nid: a\nproject: acme-ops\nmodel: m\napi_key_env: HONEYFRAME_SMTP_PASSWORD\n",
            "api_key_env",
        ),
        ("kind: Agent\nid: a\nproject: acme-ops\nmodel: m\nbase_url_env: HONEYFRAME_DATABASE_URL\n", "base_url_env"),
        (scenario("s", "{kind: run_python, recipe: score_inventory, secrets: [HONEYFRAME_SMTP_PASSWORD]}"), "secrets"),
        (scenario("s", "{kind: notify_webhook, url_env: HONEYFRAME_AGENT_API_KEY}"), "url_env"),
    ],
)
def test_documents_may_name_only_secret_variables(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str], document: str, field: str
) -> None:
    err = refused(apply_yaml, capsys, document)
    assert field in err and "HONEYFRAME_SECRET_" in err


def test_run_python_timeouts_are_bounded_at_apply(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(
        apply_yaml, capsys, scenario("s", "{kind: run_python, recipe: score_inventory, timeout_seconds: 3000000}")
    )
    assert "steps[0].timeout_seconds" in err and "86400" in err


def test_http_redirects_reach_only_allowed_hosts(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", "127.0.0.1, 169.254.*")
    hits: list[str] = []

    def target(request: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, str, bytes]:
        hits.append(request.path)
        return 200, "text/csv", b"n\n1\n"

    def redirect_to(location: str) -> Handler:
        return lambda request, method, body: (302, "text/plain", b"", {"Location": location})

    with loopback_server(target) as allowed_target:
        port = allowed_target.rsplit(":", 1)[1]
        cases = {
            "metadata": ("http://169.254.169.254/latest/meta-data/iam/", "169.254.169.254"),
            "other-host": (f"http://localhost:{port}/stolen.csv?token=s3cr3t-tok", "localhost"),
            "allowed": (f"{allowed_target}/ok.csv", None),
        }
        for name, (location, blocked_host) in cases.items():
            with loopback_server(redirect_to(location)) as origin:
                documents = dataset(f"{{type: http, url: '{origin}/start.csv'}}", name)
                documents += scenario(name, f"{{kind: sync_dataset, dataset: {name}}}")
                result = run_scenario(apply_yaml, load_defs, instance, documents, f"acme_ops__{name.replace('-', '_')}")
            if blocked_host is None:
                assert result.success and hits == ["/ok.csv"]
                continue
            assert not result.success
            text = failure_text(result, "step_1_sync_dataset")
            assert "EgressRefused" in text and f"host '{blocked_host}'" in text
            assert "s3cr3t-tok" not in "\n".join([text, *log_messages(instance, result.run_id)])
    assert hits == ["/ok.csv"]  # the non-allowed name for the same server never got a request


def test_a_name_that_resolves_to_a_forbidden_address_is_refused_when_connecting(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = socket.gethostname().lower()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    if all(net_policy.is_public(ipaddress.ip_address(a.split("%")[0])) for a in addresses):
        pytest.skip(f"this machine's name {name!r} resolves to public addresses only")
    monkeypatch.delenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS")
    served: list[str] = []
    with loopback_server(
        lambda request, method, body: (served.append(request.path) or 200, "text/csv", b"n\n1\n")
    ) as url:
        port = url.rsplit(":", 1)[1]
        documents = dataset(f"{{type: http, url: 'http://{name}:{port}/x.csv'}}")  # a name: apply cannot tell
        documents += scenario("by-name", "{kind: sync_dataset, dataset: feed}")
        result = run_scenario(apply_yaml, load_defs, instance, documents, "acme_ops__by_name")
    assert not result.success and served == []
    assert "resolves to the non-public address" in failure_text(result, "step_1_sync_dataset")


def test_agent_and_platform_endpoints_are_under_the_policy(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", "api.example.com")
    calls: list[str] = []
    with loopback_server(
        lambda request, method, body: (calls.append(request.path) or 200, *as_json(200, {})[1:])
    ) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_AGENT_URL", f"{url}/v1?key=s3cr3t-tok")
        monkeypatch.setenv("HONEYFRAME_SECRET_PLATFORM_URL", url)
        agent = granting("acme-ops", "HONEYFRAME_SECRET_AGENT_URL", "HONEYFRAME_SECRET_PLATFORM_URL")
        agent += "kind: Agent\nid: a\nproject: acme-ops\nmodel: m\nbase_url_env: HONEYFRAME_SECRET_AGENT_URL\n---\n"
        documents = agent + dataset("{type: platform, dataset_id: d, base_url_env: HONEYFRAME_SECRET_PLATFORM_URL}")
        documents += scenario("egress", "{kind: run_agent, agent: a, input: 'select 1 as x', output_table: out_a}")
        result = run_scenario(apply_yaml, load_defs, instance, documents, "acme_ops__egress")
        assert not result.success
        text = failure_text(result, "step_1_run_agent")
        assert (
            "base_url_env: HONEYFRAME_SECRET_AGENT_URL" in text and "not in HONEYFRAME_CONNECTOR_ALLOWED_HOSTS" in text
        )
        assert "s3cr3t-tok" not in text
        sync = scenario("platform", "{kind: sync_dataset, dataset: feed}")
        result = run_scenario(apply_yaml, load_defs, instance, sync, "acme_ops__platform")
        assert not result.success
        assert "EgressRefused" in failure_text(result, "step_1_sync_dataset")
    assert calls == []


RECIPE = """
import os
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as context:
    names = sorted(n for n in os.environ if n.startswith(("HONEYFRAME", "DAGSTER")))
    listed = os.environ.get("HONEYFRAME_SECRET_LISTED", "")
    context.report_custom_message({"metadata": {"visible": ",".join(names), "listed": listed}})
"""


def test_run_python_children_see_a_minimal_environment_and_only_their_listed_secrets(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "show_env.py").write_text(RECIPE)
    monkeypatch.setenv("HONEYFRAME_PYTHON_RECIPES_DIR", str(recipes))
    monkeypatch.setenv("HONEYFRAME_SMTP_PASSWORD", "smtp-pw")
    monkeypatch.setenv("HONEYFRAME_AGENT_API_KEY", "sk-agent")
    monkeypatch.setenv("HONEYFRAME_SECRET_LISTED", "listed-value")
    monkeypatch.setenv("HONEYFRAME_SECRET_UNLISTED", "unlisted-value")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    assert apply_yaml(granting("acme-ops", "HONEYFRAME_SECRET_LISTED", "HONEYFRAME_SECRET_NOT_SET")) == 0
    step = "{kind: run_python, recipe: show_env, secrets: [HONEYFRAME_SECRET_LISTED]}"
    result = run_scenario(apply_yaml, load_defs, instance, scenario("env", step), "acme_ops__env")
    assert result.success
    metadata = output_metadata(result, "step_1_run_python")
    visible = metadata["visible"].split(",")
    # The child got the listed secret; what it reports of it is redacted (steps/redaction.py).
    assert metadata["listed"] == "***"
    assert [n for n in visible if n.startswith("HONEYFRAME")] == ["HONEYFRAME_SECRET_LISTED"]
    assert all(n.startswith("DAGSTER_PIPES_") for n in visible if n.startswith("DAGSTER"))  # Pipes' own

    missing = "{kind: run_python, recipe: show_env, secrets: [HONEYFRAME_SECRET_NOT_SET]}"
    result = run_scenario(apply_yaml, load_defs, instance, scenario("env", missing), "acme_ops__env")
    assert not result.success
    assert "HONEYFRAME_SECRET_NOT_SET not set" in failure_text(result, "step_1_run_python")
