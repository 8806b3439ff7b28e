"""Tokens: an admin token is org-wide, a project token never changes templates or the matrix; tokens are
listed without their secret, revoked and expired (then 401), and record their last use at most once a minute."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from alembic import command
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from honeyframe_dagster.cli import main as honeyframe
from honeyframe_dagster.store import schema
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ApiTokenRow, TemplateRow
from honeyframe_dagster.tokens import TokenError, create_token, hash_token
from tests.api.conftest import Api

BASE = "/api/scheduler/scenarios"
TEMPLATES = "/api/scheduler/templates"


def _row(store_url: str, name: str) -> ApiTokenRow | None:
    with Session(get_engine(store_url)) as session:
        return session.scalar(select(ApiTokenRow).where(ApiTokenRow.name == name))


def _create(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert honeyframe(["token", "create", *args]) == 0
    return capsys.readouterr().out.strip()


def _list(capsys: pytest.CaptureFixture[str]) -> dict[str, list[str]]:
    capsys.readouterr()
    assert honeyframe(["token", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["NAME", "SCOPE", "CREATED", "LAST USED", "EXPIRES"]
    return {line.split("\t")[0]: line.split("\t") for line in lines[1:]}


def test_list_use_and_revoke(api: Api, store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    token = _create(capsys, "--name", "ci", "--project", "acme-sales", "--expires-in", "30")
    listed = _list(capsys)
    assert listed["ci"][1] == "projects: acme-sales" and listed["ci"][3] == "never"
    assert listed["admin"][1] == "admin (org-wide)" and listed["admin"][4] == "never"
    expires = dt.datetime.strptime(listed["ci"][4], "%Y-%m-%d %H:%M UTC").replace(tzinfo=dt.UTC)
    assert abs(expires - (dt.datetime.now(dt.UTC) + dt.timedelta(days=30))) < dt.timedelta(minutes=2)

    assert api.call("GET", BASE, token=token).status_code == 200
    listed = _list(capsys)
    assert listed["ci"][3] != "never"
    capsys.readouterr()
    assert honeyframe(["token", "list"]) == 0
    out = capsys.readouterr().out
    row = _row(store_url, "ci")
    assert row is not None and token not in out and row.token_hash not in out and token[4:12] not in out

    capsys.readouterr()
    assert honeyframe(["token", "revoke", "ci"]) == 0
    assert "ci" not in _list(capsys) and _row(store_url, "ci") is None
    refused = api.call("GET", BASE, token=token)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    capsys.readouterr()
    assert honeyframe(["token", "revoke", "ci"]) == 2
    assert "'ci'" in capsys.readouterr().err
    # The name is free again.
    assert _create(capsys, "--name", "ci", "--project", "acme-ops").startswith("hft_")


def test_expired_token_answers_401(api: Api, store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    token = _create(capsys, "--name", "soon", "--project", "acme-sales", "--expires-in", "1")
    assert api.call("GET", BASE, token=token).status_code == 200
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with Session(get_engine(store_url)) as session, session.begin():
        session.execute(update(ApiTokenRow).where(ApiTokenRow.name == "soon").values(expires_at=past))
    expired = api.call("GET", BASE, token=token)
    assert expired.status_code == 401 and expired.json()["detail"] == "token 'soon' expired"
    assert _list(capsys)["soon"][4].endswith("(expired)")

    # Created on a clock 2 days back with a 1-day expiry: expired now.
    with Session(get_engine(store_url)) as session, session.begin():
        frozen = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        old = create_token(session, "old", False, ["acme-sales"], expires_in_days=1, now=frozen)
    assert api.call("GET", BASE, token=old).status_code == 401


@pytest.mark.parametrize("days", ["0", "-1", "3651", "1.5", "soon"])
def test_expires_in_is_a_bounded_number_of_days(
    api: Api, store_url: str, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        honeyframe(["token", "create", "--name", "x", "--project", "acme-sales", "--expires-in", days])
    assert exited.value.code == 2
    assert f"--expires-in: expected a whole number of days from 1 to 3650, got '{days}'" in capsys.readouterr().err
    assert _row(store_url, "x") is None


def test_admin_token_is_org_wide(api: Api, store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert honeyframe(["token", "create", "--name", "boss", "--admin", "--project", "acme-sales"]) == 2
    err = capsys.readouterr().err
    assert "admin token is org-wide" in err and "Traceback" not in err
    assert _row(store_url, "boss") is None
    with Session(get_engine(store_url)) as session, pytest.raises(TokenError, match="org-wide"):
        create_token(session, "boss", True, ["acme-sales"])


def test_project_token_never_changes_templates_or_the_matrix(api: Api, store_url: str) -> None:
    with Session(get_engine(store_url)) as session:
        before = session.get(TemplateRow, "nightly-mart-refresh")
        assert before is not None
        document = dict(before.document)
    attack = {
        "slug": "nightly-mart-refresh",
        "display_name": "Owned",
        "parameters": [{"name": "mart_recipe", "type": "recipe_ref"}],
        "trigger": {"cron": "* * * * *"},
        "steps": [{"kind": "run_recipe", "recipe": "{{ param.mart_recipe }}"}],
    }
    refused = api.call("POST", TEMPLATES, token="sales", json=attack)
    assert refused.status_code == 403 and "org-wide" in refused.json()["detail"]
    for action in ("enable", "disable"):
        path = f"{TEMPLATES}/nightly-mart-refresh/{action}/acme-sales"
        assert api.call("POST", path, token="sales", json=None).status_code == 403
    with Session(get_engine(store_url)) as session:
        after = session.get(TemplateRow, "nightly-mart-refresh")
        assert after is not None and after.document == document and after.display_name != "Owned"

    enabled = api.call(
        "POST", f"{TEMPLATES}/nightly-mart-refresh/enable/acme-ops", json={"parameters": {"mart_recipe": "stg_orders"}}
    )
    assert enabled.status_code == 200, enabled.text
    # The project token sees the templates, and the matrix cells of its own projects only.
    listed = api.call("GET", TEMPLATES, token="sales").json()["items"]
    assert [t["slug"] for t in listed] == ["nightly-mart-refresh"] and listed[0]["matrix"] == []
    assert [c["project_id"] for c in api.call("GET", TEMPLATES).json()["items"][0]["matrix"]] == ["acme-ops"]


def test_last_use_is_written_at_most_once_a_minute(api: Api, store_url: str) -> None:
    assert api.call("GET", BASE, token="sales").status_code == 200
    first = _row(store_url, "sales")
    assert first is not None and first.last_used_at is not None
    assert api.call("GET", BASE, token="sales").status_code == 200
    second = _row(store_url, "sales")
    assert second is not None and second.last_used_at == first.last_used_at

    two_minutes_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    with Session(get_engine(store_url)) as session, session.begin():
        session.execute(update(ApiTokenRow).where(ApiTokenRow.name == "sales").values(last_used_at=two_minutes_ago))
    assert api.call("GET", BASE, token="sales").status_code == 200
    third = _row(store_url, "sales")
    assert third is not None and third.last_used_at is not None and third.last_used_at > two_minutes_ago
    # A refused request (another project) still counts as a use of the token: it authenticated.
    assert api.call("GET", BASE, token="sales", project="acme-ops").status_code == 403


def test_migration_demotes_admin_tokens_limited_to_projects(store_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Rows from older installs: an 'admin of acme-ops' becomes a project token of acme-ops, never org-wide."""
    engine = get_engine(store_url)
    config = schema.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    insert = text(
        "INSERT INTO api_tokens (name, token_hash, is_admin, projects, created_at) "
        "VALUES (:name, :hash, :admin, :projects, CURRENT_TIMESTAMP)"
    )
    with engine.begin() as connection:
        for name, projects in (("ops-admin", '["acme-ops"]'), ("root", "[]")):
            connection.execute(insert, {"name": name, "hash": hash_token(name), "admin": True, "projects": projects})
    with caplog.at_level(logging.WARNING, logger="honeyframe.store"):
        schema.upgrade(engine)
    assert "ops-admin" in caplog.text and "root" not in caplog.text
    demoted, root = _row(store_url, "ops-admin"), _row(store_url, "root")
    assert demoted is not None and demoted.is_admin is False and demoted.projects == ["acme-ops"]
    assert root is not None and root.is_admin is True and root.expires_at is None and root.last_used_at is None
