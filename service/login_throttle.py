"""Sign-in throttling per client and per account, with growing delays.

Three keys count failures, whether or not the email belongs to an account (so the
answers cannot tell them apart): the email and client together, the email alone (a
guesser spread over many addresses), and the client alone (one client trying many
emails). Past a key's allowance each failure doubles its wait, from one second up to
fifteen minutes; failures are forgotten an hour after the last one. A throttled attempt
is answered like any other refusal, and nothing here signs anybody out: an attacker
cannot lock a nurse out of the session she has, and from her own device she keeps her
own allowance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete

from service.db.models import LoginThrottle

FORGET_AFTER = timedelta(hours=1)
LONGEST_WAIT = timedelta(minutes=15)


@dataclass(frozen=True)
class Rule:
    prefix: str
    allowance: int  # failures before any wait


PAIR = Rule("pair", 5)  # this email from this client
ACCOUNT = Rule("account", 50)  # this email from anywhere
CLIENT = Rule("client", 20)  # this client, any email


def keys_for(email: str, client: str) -> list[str]:
    who = _digest(email.strip().lower())
    where = _digest(client)
    return [f"{PAIR.prefix}:{who}:{where}", f"{ACCOUNT.prefix}:{who}", f"{CLIENT.prefix}:{where}"]


def _digest(text: str) -> str:
    # Emails and addresses are not stored as such: a digest is enough to count them.
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def wait(session: Session, keys: list[str], *, now: datetime) -> timedelta:
    """How long until these keys may try again (zero when they may now)."""
    longest = timedelta(0)
    for key in keys:
        row = session.get(LoginThrottle, key)
        if row is not None and row.blocked_until is not None and row.blocked_until > now:
            longest = max(longest, row.blocked_until - now)
    return longest


def failed(session: Session, keys: list[str], *, now: datetime) -> None:
    for key in keys:
        try:
            with session.begin_nested():
                _count(session, key, now=now)
        except IntegrityError:  # a concurrent failure created the row first: count on it
            with session.begin_nested():
                _count(session, key, now=now)


def _count(session: Session, key: str, *, now: datetime) -> None:
    row = session.get(LoginThrottle, key)
    if row is None or now - row.last_failure_at > FORGET_AFTER:
        row = row or LoginThrottle(key=key, failures=0, last_failure_at=now)
        row.failures = 0
        row.blocked_until = None
    row.failures += 1
    row.last_failure_at = now
    past = row.failures - _rule(key).allowance
    if past > 0:
        row.blocked_until = now + min(timedelta(seconds=2 ** min(past - 1, 20)), LONGEST_WAIT)
    session.add(row)
    session.flush()


def succeeded(session: Session, email: str, client: str) -> None:
    """The right password: this email's own counts start again (the client's does not)."""
    pair, account, _ = keys_for(email, client)
    session.exec(delete(LoginThrottle).where(col(LoginThrottle.key).in_([pair, account])))


def unlock(session: Session, email: str) -> int:
    """Forget every failure counted against this email (an admin's `users unlock`)."""
    who = _digest(email.strip().lower())
    result = session.exec(
        delete(LoginThrottle).where(
            (col(LoginThrottle.key) == f"{ACCOUNT.prefix}:{who}")
            | col(LoginThrottle.key).startswith(f"{PAIR.prefix}:{who}:")
        )
    )
    return int(result.rowcount or 0)


def _rule(key: str) -> Rule:
    prefix = key.split(":", 1)[0]
    return {PAIR.prefix: PAIR, ACCOUNT.prefix: ACCOUNT, CLIENT.prefix: CLIENT}[prefix]
