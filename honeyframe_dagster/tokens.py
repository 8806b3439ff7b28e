"""API tokens: shown once at creation, stored only as a hash, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from honeyframe_dagster.store.tables import ApiTokenRow, ProjectRow

TOKEN_PREFIX = "hft_"


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class TokenGrant:
    """What a token may do: every project when admin without a project list, else the listed projects."""

    name: str
    is_admin: bool
    projects: frozenset[str]

    def may_act_on(self, project_id: str) -> bool:
        return (self.is_admin and not self.projects) or project_id in self.projects


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 (no salt, no stretching) cannot be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, is_admin: bool, projects: Sequence[str]) -> str:
    """Store a new token's hash and return the token itself (the only time it is visible)."""
    if session.scalar(select(ApiTokenRow.id).where(ApiTokenRow.name == name)) is not None:
        raise TokenError(f"name: a token named {name!r} exists already")
    for project_id in projects:
        if session.get(ProjectRow, project_id) is None:
            raise TokenError(f"project: unknown project {project_id!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiTokenRow(name=name, token_hash=hash_token(token), is_admin=is_admin, projects=sorted(projects)))
    return token


def verify_token(session: Session, token: str) -> TokenGrant | None:
    digest = hash_token(token)
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return TokenGrant(row.name, row.is_admin, frozenset(row.projects or []))
