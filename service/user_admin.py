"""Looking after accounts: list users, deactivate, reset a password, change a role, unlock,
list and end sessions, list and revoke API keys. Every change is audited with who made it.

A new password, a role change or a deactivation ends every session the user has (their
browser must sign in again with the new facts); API keys stop with their user's
deactivation (service.accounts.principal_for_key) and can be revoked one by one.
Refusals are `AccountError`s naming the field. The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from service import accounts, login_throttle, sessions
from service.audit import record_audit
from service.db.models import ApiKey, User, UserSession
from service.domain import CLINIC_ROLES, ActorType, Role


@dataclass(frozen=True)
class UserSummary:
    user: User
    sessions: int  # live ones
    keys: int  # not revoked


def find_user(session: Session, ident: str) -> User | None:
    """A user by email or id (as typed on the command line)."""
    ident = ident.strip()
    if ident.isascii() and ident.isdigit():
        return session.get(User, int(ident))
    return session.exec(select(User).where(User.email == ident.lower())).first()


def list_users(session: Session, *, now: datetime, idle: timedelta) -> list[UserSummary]:
    users = session.exec(select(User).order_by(col(User.email))).all()
    keys = dict(
        session.exec(
            select(ApiKey.user_id, func.count())
            .where(col(ApiKey.revoked_at).is_(None))
            .group_by(col(ApiKey.user_id))
        ).all()
    )
    live: dict[int, int] = {}
    for row in session.exec(select(UserSession).where(col(UserSession.revoked_at).is_(None))):
        if sessions.is_live(row, now=now, idle=idle):
            live[row.user_id] = live.get(row.user_id, 0) + 1
    return [UserSummary(u, live.get(u.id or 0, 0), keys.get(u.id or 0, 0)) for u in users]


def reset_password(
    session: Session, user: User, *, password: str, actor: str, now: datetime
) -> int:
    """Set a new password; every session of the user ends. Returns how many ended."""
    accounts.check_password(password)  # AccountError naming the field
    user.password_hash = accounts.hash_password(password)
    session.add(user)
    ended = _end_sessions(session, user, now=now, reason="password")
    _audit(session, user, "user.password_reset", actor=actor, detail={"sessions_ended": ended})
    return ended


def set_active(session: Session, user: User, *, active: bool, actor: str, now: datetime) -> int:
    user.is_active = active
    session.add(user)
    ended = 0 if active else _end_sessions(session, user, now=now, reason="deactivated")
    action = "user.activate" if active else "user.deactivate"
    _audit(session, user, action, actor=actor, detail={"sessions_ended": ended})
    return ended


def set_role(
    session: Session, user: User, *, role: Role, clinic_id: int | None, actor: str, now: datetime
) -> int:
    if role in CLINIC_ROLES and clinic_id is None:
        raise accounts.AccountError(f"clinic: {role} users belong to a clinic")
    before = {"role": user.role, "clinic_id": user.clinic_id}
    user.role = role
    user.clinic_id = clinic_id if role in CLINIC_ROLES else None
    session.add(user)
    ended = _end_sessions(session, user, now=now, reason="role")
    detail = {"from": before, "to": {"role": str(role), "clinic_id": user.clinic_id},
              "sessions_ended": ended}  # fmt: skip
    _audit(session, user, "user.role", actor=actor, detail=detail)
    return ended


def unlock(session: Session, user: User, *, actor: str) -> int:
    """Forget the failed sign-ins counted against the user's email."""
    forgotten = login_throttle.unlock(session, user.email)
    _audit(session, user, "user.unlock", actor=actor, detail={"throttles_cleared": forgotten})
    return forgotten


def end_sessions(session: Session, user: User, *, actor: str, now: datetime) -> int:
    ended = _end_sessions(session, user, now=now, reason="revoked")
    _audit(session, user, "user.sessions_revoked", actor=actor, detail={"sessions_ended": ended})
    return ended


def end_session(session: Session, row: UserSession, *, actor: str, now: datetime) -> None:
    sessions.revoke(session, row, now=now, reason="revoked")
    record_audit(session, actor_type=_actor_type(actor), actor=actor, action="session.revoke",
                 entity_type="user_session", entity_id=row.id,
                 detail={"user_id": row.user_id})  # fmt: skip


def keys_of(session: Session, user_id: int | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(col(ApiKey.created_at).desc())
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    return list(session.exec(query).all())


def find_key(session: Session, ident: str) -> ApiKey | None:
    """A key by id or by the prefix shown when it was made (`ac_<prefix>_...`)."""
    ident = ident.strip().removeprefix(accounts.KEY_PREFIX).split("_", 1)[0]
    if ident.isascii() and ident.isdigit() and len(ident) < 10:
        return session.get(ApiKey, int(ident))
    return session.exec(select(ApiKey).where(ApiKey.prefix == ident)).first()


def revoke_key(session: Session, key: ApiKey, *, actor: str, now: datetime) -> bool:
    """Revoke a key; False when it already was."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = now
    session.add(key)
    owner = session.get(User, key.user_id)
    record_audit(session, actor_type=_actor_type(actor), actor=actor, action="api_key.revoke",
                 entity_type="api_key", entity_id=key.id,
                 clinic_id=owner.clinic_id if owner else None)  # fmt: skip
    return True


def _end_sessions(session: Session, user: User, *, now: datetime, reason: str) -> int:
    assert user.id is not None, "the user must be flushed first"
    return sessions.revoke_all(session, user_id=user.id, now=now, reason=reason)


def _actor_type(actor: str) -> ActorType:
    return ActorType.SYSTEM if actor == "cli" else ActorType.USER


def _audit(session: Session, user: User, action: str, *, actor: str, detail: dict) -> None:
    record_audit(session, actor_type=_actor_type(actor), actor=actor, action=action,
                 entity_type="user", entity_id=user.id, clinic_id=user.clinic_id,
                 detail=detail)  # fmt: skip
