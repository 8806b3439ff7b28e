"""API tokens: shown once at creation, stored only as a hash, compared in constant time.

Two kinds, never mixed: an admin token is org-wide (templates, the enable matrix, every project); a project
token acts on the scenarios of the projects it lists and nothing else. A token may expire; revoking deletes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.store.tables import AdminSessionRow, ApiTokenRow, ProjectRow

TOKEN_PREFIX = "hft_"
MAX_EXPIRY_DAYS = 3650
# `last_used_at` is written at most this often per token, so that reads do not all turn into writes.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
# An admin session (a login to the admin pages) lasts this long at most; its cookie holds a random id of this prefix.
ADMIN_SESSION_LIFETIME = dt.timedelta(hours=12)
ADMIN_SESSION_PREFIX = "hfs_"


class TokenError(ValueError):
    pass


class TokenRejected(TokenError):
    """The bearer token is missing, unknown (or revoked), or expired: the API answers 401."""


@dataclass(frozen=True)
class TokenGrant:
    """What a token may do: everything when admin (org-wide), else act on the listed projects."""

    name: str
    is_admin: bool
    projects: frozenset[str]

    def may_act_on(self, project_id: str) -> bool:
        return self.is_admin or project_id in self.projects


@dataclass(frozen=True)
class TokenInfo:
    """A token as `honeyframe token list` shows it: never the secret, never its hash."""

    name: str
    is_admin: bool
    projects: tuple[str, ...]
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None

    @property
    def scope(self) -> str:
        return "admin (org-wide)" if self.is_admin else "projects: " + ", ".join(self.projects)


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 (no salt, no stretching) cannot be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


def check_scope(is_admin: bool, projects: Sequence[str]) -> None:
    """An admin token is org-wide: limiting one to projects is refused, not quietly read some other way."""
    if is_admin and projects:
        raise TokenError(
            "an admin token is org-wide and cannot be limited to projects: use --admin alone, "
            f"or --project without --admin for a token limited to {', '.join(projects)}"
        )


def check_expiry_days(days: int) -> None:
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise TokenError(f"expires-in: expected a whole number of days from 1 to {MAX_EXPIRY_DAYS}, got {days}")


def create_token(
    session: Session,
    name: str,
    is_admin: bool,
    projects: Sequence[str],
    expires_in_days: int | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Store a new token's hash and return the token itself (the only time it is visible)."""
    check_scope(is_admin, projects)
    if expires_in_days is not None:
        check_expiry_days(expires_in_days)
    if session.scalar(select(ApiTokenRow.id).where(ApiTokenRow.name == name)) is not None:
        raise TokenError(f"name: a token named {name!r} exists already")
    for project_id in projects:
        if session.get(ProjectRow, project_id) is None:
            raise TokenError(f"project: unknown project {project_id!r}")
    now = now or utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiTokenRow(
            name=name,
            token_hash=hash_token(token),
            is_admin=is_admin,
            projects=sorted(set(projects)),
            created_at=now,
            expires_at=None if expires_in_days is None else now + dt.timedelta(days=expires_in_days),
        )
    )
    return token


def list_tokens(session: Session) -> list[TokenInfo]:
    rows = session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.name))
    return [
        TokenInfo(r.name, r.is_admin, tuple(r.projects or ()), r.created_at, r.last_used_at, r.expires_at) for r in rows
    ]


def revoke_token(session: Session, name: str) -> None:
    """Delete the token and its admin sessions: its hash is gone, so it can never authenticate again."""
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.name == name))
    if row is None:
        raise TokenError(f"name: no token named {name!r}")
    # The foreign key cascades too; deleted here as well, so that no store setting can leave a session behind.
    session.execute(delete(AdminSessionRow).where(AdminSessionRow.token_id == row.id))
    session.delete(row)


# --- admin sessions: what the admin pages' cookie holds instead of the token ------------------------------------


def open_admin_session(session: Session, token: str, now: dt.datetime | None = None) -> tuple[str, TokenGrant]:
    """Log in with a token: a new random session id (returned once, for the cookie; the store keeps its hash) that
    acts with the token's grant until ADMIN_SESSION_LIFETIME passes, it is closed, or the token is revoked.
    Raises `TokenRejected`. The caller commits."""
    now = now or utcnow()
    row = _token_row(session, token)
    grant = _grant(session, row, now)
    session.execute(delete(AdminSessionRow).where(AdminSessionRow.expires_at <= now))  # expired ones, anyone's
    session_id = ADMIN_SESSION_PREFIX + secrets.token_urlsafe(32)
    session.add(
        AdminSessionRow(
            id_hash=hash_token(session_id), token_id=row.id, created_at=now, expires_at=now + ADMIN_SESSION_LIFETIME
        )
    )
    return session_id, grant


def admin_session_grant(session: Session, session_id: str, now: dt.datetime | None = None) -> TokenGrant:
    """The grant of a live admin session, checked as its token is (expired or revoked: refused), and recording
    the token's use. Raises `TokenRejected`."""
    now = now or utcnow()
    row = session.scalar(
        select(ApiTokenRow)
        .join(AdminSessionRow, AdminSessionRow.token_id == ApiTokenRow.id)
        .where(AdminSessionRow.id_hash == hash_token(session_id), AdminSessionRow.expires_at > now)
    )
    if row is None:
        raise TokenRejected("the admin session expired or was ended")
    return _grant(session, row, now)


def close_admin_session(session: Session, session_id: str) -> None:
    """End the session (logout): its id is worth nothing from now on, wherever it was copied to. The caller commits."""
    session.execute(delete(AdminSessionRow).where(AdminSessionRow.id_hash == hash_token(session_id)))


def verify_token(session: Session, token: str, now: dt.datetime | None = None) -> TokenGrant:
    """The grant of a valid token; records its use (at most once a minute). Raises `TokenRejected`."""
    return _grant(session, _token_row(session, token), now or utcnow())


def _token_row(session: Session, token: str) -> ApiTokenRow:
    digest = hash_token(token)
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise TokenRejected("missing or unknown bearer token")
    return row


def _grant(session: Session, row: ApiTokenRow, now: dt.datetime) -> TokenGrant:
    if row.expires_at is not None and row.expires_at <= now:
        raise TokenRejected(f"token '{row.name}' expired")
    # Migration 0004 demoted admin tokens that listed projects; never read such a row as org-wide.
    grant = TokenGrant(row.name, row.is_admin and not row.projects, frozenset(row.projects or []))
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        _touch(session, row.id, now)
    return grant


def _touch(session: Session, token_id: int, now: dt.datetime) -> None:
    # Conditional, so that of concurrent requests only one writes; committed at once so a failing request
    # still counts as a use (this runs before any of the request's own work).
    stale = now - LAST_USED_RESOLUTION
    session.execute(
        update(ApiTokenRow)
        .where(ApiTokenRow.id == token_id)
        .where(or_(ApiTokenRow.last_used_at.is_(None), ApiTokenRow.last_used_at <= stale))
        .values(last_used_at=now)
    )
    session.commit()
