"""Server-side web sessions: created at sign-in, looked up on every page, revocable.

The browser's cookie carries a random token (and is signed besides); the table keeps
only the token's SHA-256, so a leaked database cannot be replayed as cookies. A session
ends at logout, after `idle` without a request, `LIFETIME` after sign-in, or when it is
revoked: the user's password, role or active state changed, or an admin revoked it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select, update

from service.db.models import User, UserSession

LIFETIME = timedelta(hours=12)  # one clinic shift, however active
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


@dataclass(frozen=True)
class Active:
    row: UserSession
    user: User


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, *, user: User, now: datetime, user_agent: str | None) -> str:
    """A new session for `user`; returns the token for the cookie (shown nowhere else)."""
    assert user.id is not None, "the user must be flushed first"
    token = secrets.token_urlsafe(32)
    session.add(UserSession(
        user_id=user.id, token_hash=token_hash(token), created_at=now, last_seen_at=now,
        expires_at=now + LIFETIME, user_agent=(user_agent or "")[:200] or None,
    ))  # fmt: skip
    session.flush()
    return token


def find(session: Session, token: str | None, *, now: datetime, idle: timedelta) -> Active | None:
    """The live session behind `token` and its user (still active), or None."""
    if not token:
        return None
    row = session.exec(
        select(UserSession).where(UserSession.token_hash == token_hash(token))
    ).first()
    if row is None or not is_live(row, now=now, idle=idle):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.add(row)
    return Active(row, user)


def is_live(row: UserSession, *, now: datetime, idle: timedelta) -> bool:
    return row.revoked_at is None and row.expires_at > now and now - row.last_seen_at < idle


def revoke(session: Session, row: UserSession, *, now: datetime, reason: str) -> None:
    if row.revoked_at is None:
        row.revoked_at = now
        row.revoked_reason = reason
        session.add(row)


def revoke_all(session: Session, *, user_id: int, now: datetime, reason: str) -> int:
    """End every live session of a user; returns how many were live."""
    result = session.exec(
        update(UserSession)
        .where(col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    return int(result.rowcount or 0)


def live_for(
    session: Session, *, user_id: int, now: datetime, idle: timedelta
) -> list[UserSession]:
    rows = session.exec(
        select(UserSession)
        .where(UserSession.user_id == user_id, col(UserSession.revoked_at).is_(None))
        .order_by(col(UserSession.last_seen_at).desc())
    ).all()
    return [row for row in rows if is_live(row, now=now, idle=idle)]
