"""Password sign-in, throttled per client and per account (service.login_throttle).

Every attempt takes the same path whatever the account's state (unknown email,
deactivated, wrong password, throttled): the throttle is read, one password hash is
verified (a decoy's when there is no account to check, or while throttled), the failure
is counted (not while throttled: that attempt was not judged) and audited, and the
answer is one of two fixed texts that never depend on whether the email exists.
Failures never end anybody's existing session. The caller commits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from service import login_throttle
from service.accounts import decoy_user, verify_password
from service.audit import record_audit
from service.db.models import User
from service.domain import ActorType

WRONG = "Email or password is not right."


@dataclass(frozen=True)
class LoginOutcome:
    user: User | None
    error: str | None  # shown to the person at the keyboard
    retry_after: int = 0  # seconds, when throttled

    @property
    def ok(self) -> bool:
        return self.user is not None


def throttled_message(seconds: int) -> str:
    unit = "second" if seconds == 1 else "seconds"
    return f"Too many attempts. Wait {seconds} {unit}, then try again."


def attempt_login(
    session: Session, *, email: str, password: str, client: str, now: datetime
) -> LoginOutcome:
    email = email.strip().lower()
    keys = login_throttle.keys_for(email, client)
    wait = login_throttle.wait(session, keys, now=now)
    user = session.exec(select(User).where(User.email == email)).first() if email else None
    usable = user is not None and user.is_active and not wait
    # One hash verified on every path: the answer takes as long whatever the account.
    right = verify_password(user if usable and user else decoy_user(), password) and usable
    if right and user is not None:
        login_throttle.succeeded(session, email, client)
        user.last_login_at = now
        session.add(user)
        _audit(session, user, "user.login")
        return LoginOutcome(user, None)
    if not wait:  # an attempt while waiting is not judged, so it does not count either
        login_throttle.failed(session, keys, now=now)
    # Written for unknown emails too (no id): the same work whatever the account.
    _audit(session, user, "user.login_throttled" if wait else "user.login_failed")
    if wait:
        seconds = max(1, math.ceil(wait.total_seconds()))
        return LoginOutcome(None, throttled_message(seconds), retry_after=seconds)
    return LoginOutcome(None, WRONG)


def _audit(session: Session, user: User | None, action: str) -> None:
    record_audit(
        session,
        actor_type=ActorType.USER,
        actor=f"user:{user.id}" if user else "anonymous",
        action=action,
        entity_type="user",
        entity_id=user.id if user else None,
        clinic_id=user.clinic_id if user else None,
    )
