"""The admin pages' login: the token is given once; the browser then holds only a random session id.

The session id lives in an HttpOnly, SameSite=Strict cookie (`Secure` when the request or HONEYFRAME_PUBLIC_URL is
https); the store keeps its SHA-256, its token and its expiry (`tokens.open_admin_session`, 12 h). Every page reads
the session's grant from the store, checked as the REST API checks a bearer token, so a logout, a revoked token
(`honeyframe token revoke`) or an expired one ends the session at its next request, in every API process. The
cookie never holds the token, so a copied cookie is worth one session, never the API token.

State-changing requests must also carry a CSRF token: a hash of the session id (or, before login, a random value
that is also in a cookie), sent in a form field or the `X-CSRF-Token` header. A cross-site page can neither read
it nor, with SameSite=Strict, send the cookie at all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qs

from fastapi import HTTPException, Request, Response
from sqlalchemy.orm import Session

from api.deps import check_rate, request_limits
from honeyframe_dagster.store.versions import set_actor
from honeyframe_dagster.tokens import TokenGrant, TokenRejected, admin_session_grant

SESSION_COOKIE = "hf_admin_session"
LOGIN_CSRF_COOKIE = "hf_admin_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
COOKIE_PATH = "/admin"


class PageError(Exception):
    """An admin page that cannot be shown: rendered as an HTML error page (401 sends the browser to the login)."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or {}


def session_id(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def page_grant(request: Request, session: Session) -> TokenGrant:
    """The grant of the request's admin session; 401 without a live one, 429 past its token's rate limit."""
    sid = session_id(request)
    try:
        if sid is None:
            raise TokenRejected("no admin session")
        grant = admin_session_grant(session, sid)
    except TokenRejected:
        raise PageError(401, "please log in") from None
    try:
        check_rate(request_limits(request), grant)
    except HTTPException as exc:
        raise PageError(exc.status_code, str(exc.detail), dict(exc.headers or {})) from None
    set_actor(session, grant.name)  # a version a page's change writes is by this token, as through the API
    return grant


def csrf_for(sid: str) -> str:
    """The CSRF token of a session: derived from its secret id, so only a page of this origin knows it."""
    return hashlib.sha256(b"honeyframe-admin-csrf:" + sid.encode()).hexdigest()


def check_csrf(expected: str, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(expected, sent):
        raise PageError(403, "missing or wrong CSRF token: reload the page and try again")


def session_csrf(request: Request, form: dict[str, str] | None = None) -> None:
    """For a logged-in request: the CSRF token in the header or the form must match the session's."""
    sid = session_id(request)
    if sid is None:
        raise PageError(401, "please log in")
    check_csrf(csrf_for(sid), request.headers.get(CSRF_HEADER) or (form or {}).get("csrf"))


def client_address(request: Request) -> str:
    """The TCP peer (behind a reverse proxy: the proxy); what failed logins are counted by."""
    return request.client.host if request.client else "unknown"


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def secure_cookies(request: Request) -> bool:
    """`Secure` when browsers reach the API over https: the request itself, or HONEYFRAME_PUBLIC_URL (TLS that ends
    at a proxy reaches the API as plain http)."""
    return request.url.scheme == "https" or bool(request.app.state.settings.public_https)


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(name, value, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure_cookies(request))


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure_cookies(request))


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (the login and logout forms), first value of each field."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


def safe_next(target: str | None) -> str | None:
    """Only paths of the admin pages: never another host (`//evil`, `/\\evil`) after logging in."""
    if not target or not target.startswith("/admin/") or target.startswith(("//", "/\\")) or "\\" in target:
        return None
    return target
