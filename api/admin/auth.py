"""The admin pages' login: the token is given once and kept in an HttpOnly, SameSite=Strict cookie.

Every page checks the cookie's token with the API's own `current_token`, so a revoked or expired token stops
working here too. State-changing requests must also carry a CSRF token: a hash of the session's token (or, before
login, a random value that is also in a cookie), sent in a form field or the `X-CSRF-Token` header. A cross-site page
can neither read it nor, with SameSite=Strict, send the cookie at all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qs

from fastapi import HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from api.deps import current_token
from honeyframe_dagster.tokens import TokenGrant

SESSION_COOKIE = "hf_admin_session"
LOGIN_CSRF_COOKIE = "hf_admin_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
COOKIE_PATH = "/admin"


class PageError(Exception):
    """An admin page that cannot be shown: rendered as an HTML error page (401 sends the browser to the login)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def grant_for(session: Session, token: str) -> TokenGrant | None:
    """The token's grant, checked exactly as the REST API checks a bearer token; None if refused."""
    try:
        return current_token(session, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
    except HTTPException:
        return None


def page_grant(request: Request, session: Session) -> TokenGrant:
    token = session_token(request)
    grant = grant_for(session, token) if token else None
    if grant is None:
        raise PageError(401, "please log in")
    return grant


def csrf_for(token: str) -> str:
    """The CSRF token of a session: derived from its secret token, so only a page of this origin knows it."""
    return hashlib.sha256(b"honeyframe-admin-csrf:" + token.encode()).hexdigest()


def check_csrf(expected: str, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(expected, sent):
        raise PageError(403, "missing or wrong CSRF token: reload the page and try again")


def session_csrf(request: Request, form: dict[str, str] | None = None) -> None:
    """For a logged-in request: the CSRF token in the header or the form must match the session's."""
    token = session_token(request)
    if token is None:
        raise PageError(401, "please log in")
    check_csrf(csrf_for(token), request.headers.get(CSRF_HEADER) or (form or {}).get("csrf"))


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


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
