"""Password login with lock-out after repeated failures.

Five wrong passwords in a row lock the account for fifteen minutes (users.failed_logins,
users.locked_until). While locked, even the right password is refused, so guessing
cannot continue; a successful login resets the counter. The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from sqlmodel import Session, select

from service.accounts import verify_password
from service.audit import record_audit
from service.db.models import User
from service.domain import ActorType

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)


@dataclass(frozen=True)
class LoginOutcome:
    user: User | None
    error: str | None  # shown to the person at the keyboard

    @property
    def ok(self) -> bool:
        return self.user is not None


_WRONG = "Email or password is not right."
_LOCKED = "Too many failed attempts: this account is locked for 15 minutes."


def attempt_login(session: Session, *, email: str, password: str, now: datetime) -> LoginOutcome:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.is_active:
        _spend_a_hash(password)
        return LoginOutcome(None, _WRONG)
    if user.locked_until is not None and user.locked_until > now:
        return LoginOutcome(None, _LOCKED)
    if not verify_password(user, password):
        return LoginOutcome(None, _record_failure(session, user, now=now))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(user)
    _audit(session, user, "user.login")
    return LoginOutcome(user, None)


@lru_cache(maxsize=1)
def _decoy() -> User:
    return User(email="decoy@invalid", role="staff", password_hash=PasswordHasher().hash("decoy"))


def _spend_a_hash(password: str) -> None:
    """Take as long as a real check, so response time does not reveal which emails exist."""
    verify_password(_decoy(), password)


def _record_failure(session: Session, user: User, *, now: datetime) -> str:
    user.failed_logins += 1
    locked = user.failed_logins >= MAX_FAILURES
    if locked:
        user.locked_until = now + LOCK_FOR
        user.failed_logins = 0
    session.add(user)
    _audit(session, user, "user.locked" if locked else "user.login_failed")
    return _LOCKED if locked else _WRONG


def _audit(session: Session, user: User, action: str) -> None:
    record_audit(
        session,
        actor_type=ActorType.USER,
        actor=f"user:{user.id}",
        action=action,
        entity_type="user",
        entity_id=user.id,
        clinic_id=user.clinic_id,
    )


def active_user(session: Session, user_id: int | None, *, now: datetime) -> User | None:
    """The user a session belongs to, if they may still use it."""
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    if user.locked_until is not None and user.locked_until > now:
        return None
    return user
