"""Admin sessions: the cookie holds a random session id (the store only its hash), never the API token; logout,
expiry and `honeyframe token revoke` end it server-side, so a copied cookie stops working; the cookie is `Secure`
whenever HONEYFRAME_PUBLIC_URL is https. On SQLite and Postgres (the revoke relies on the store's cascade).

Before (issue 17, defect 10): the cookie was the raw token, `Secure` only on direct https requests, and logout
only asked the browser to forget it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from honeyframe_dagster.cli import main as honeyframe
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import AdminSessionRow
from honeyframe_dagster.tokens import ADMIN_SESSION_LIFETIME, hash_token
from tests.api.conftest import Api
from tests.api.test_admin import MATRIX, log_in, page_csrf

COOKIE = "hf_admin_session"


def session_cookie(api: Api) -> str:
    value = api.client.cookies.get(COOKIE)
    assert value
    return value


def with_cookie(api: Api, value: str, path: str = MATRIX) -> int:
    """A GET from another browser that holds a copy of the cookie."""
    other = TestClient(api.client.app)
    other.cookies.set(COOKIE, value, path="/admin")
    return other.get(path, follow_redirects=False).status_code


def stored_sessions() -> list[AdminSessionRow]:
    with Session(get_engine(get_settings().store_url)) as session:
        return list(session.scalars(select(AdminSessionRow)))


def test_the_cookie_holds_a_session_id_the_store_keeps_only_hashed(api: Api) -> None:
    answer = log_in(api, "admin")
    assert answer.status_code == 303
    cookie = session_cookie(api)
    assert cookie != api.tokens["admin"] and api.tokens["admin"] not in answer.headers["set-cookie"]
    [row] = stored_sessions()
    assert row.id_hash == hash_token(cookie) and cookie not in row.id_hash
    lifetime = row.expires_at - row.created_at
    assert lifetime == ADMIN_SESSION_LIFETIME == dt.timedelta(hours=12)
    # The cookie is no API token: it opens the admin pages, never the REST API.
    assert api.call("GET", "/api/scheduler/scenarios", token=cookie).status_code == 401
    # Logging in again replaces this browser's session; the CSRF token follows the session.
    first_csrf = page_csrf(api)
    assert log_in(api, "admin").status_code == 303
    assert [r.id_hash for r in stored_sessions()] == [hash_token(session_cookie(api))]
    assert page_csrf(api) != first_csrf and with_cookie(api, cookie) == 303


def test_logout_ends_the_session_for_every_copy_of_the_cookie(api: Api) -> None:
    assert log_in(api, "admin").status_code == 303
    stolen = session_cookie(api)
    assert with_cookie(api, stolen) == 200
    out = api.client.post("/admin/logout", data={"csrf": page_csrf(api)}, follow_redirects=False)
    assert out.status_code == 303
    assert with_cookie(api, stolen) == 303  # to the login page
    assert stored_sessions() == []


def test_revoking_the_token_ends_its_sessions(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    assert log_in(api, "sales").status_code == 303
    sales = session_cookie(api)
    api.client.cookies.clear()
    assert log_in(api, "admin").status_code == 303
    admin = session_cookie(api)
    assert with_cookie(api, sales, "/admin/projects/acme-sales/schedules") == 200
    assert honeyframe(["token", "revoke", "sales"]) == 0
    assert with_cookie(api, sales, "/admin/projects/acme-sales/schedules") == 303
    assert [r.id_hash for r in stored_sessions()] == [hash_token(admin)]
    assert with_cookie(api, admin) == 200


def test_a_session_expires(api: Api) -> None:
    assert log_in(api, "admin").status_code == 303
    cookie = session_cookie(api)
    with Session(get_engine(get_settings().store_url)) as session, session.begin():
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.execute(update(AdminSessionRow).values(expires_at=past))
    assert with_cookie(api, cookie) == 303


@pytest.fixture
def behind_https_proxy(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API reached over plain http (TLS ends at a proxy) with HONEYFRAME_PUBLIC_URL=https://…"""
    from api.main import create_app

    monkeypatch.setenv("HONEYFRAME_PUBLIC_URL", "https://scheduler.acme.example")
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield Api(client, api.tokens)


def test_cookies_are_secure_when_the_public_url_is_https(behind_https_proxy: Api) -> None:
    api = behind_https_proxy
    form = api.client.get("/admin/login")
    assert "Secure" in form.headers["set-cookie"]  # the login CSRF cookie
    # httpx sends Secure cookies over https only: send the form's cookie by hand, as a browser on https would.
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found is not None
    csrf = found.group(1)
    answer = api.client.post(
        "/admin/login",
        data={"token": api.tokens["admin"], "csrf": csrf},
        headers={"Cookie": f"hf_admin_login_csrf={csrf}"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    cookies = [h for h in answer.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}=")]
    assert cookies and all("Secure" in h and "HttpOnly" in h and "SameSite=strict" in h for h in cookies)


def test_cookies_are_not_secure_on_the_default_http_url(api: Api) -> None:
    answer = log_in(api, "admin")
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}="))
    assert "Secure" not in cookie
