"""`aftercare users list|deactivate|activate|reset-password|set-role|unlock|sessions|end-sessions`
and `aftercare apikeys list|revoke`: looking after accounts (service.user_admin).

Every change is audited with actor "cli". A new password, a role change or a
deactivation ends the user's sessions at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from service.cli.accounts import apikeys, users
from service.cli.common import clinic_id_of, db_session, emit, fail, json_option, settings, when
from service.domain import Role

if TYPE_CHECKING:
    from sqlmodel import Session

    from service.db.models import User

USER_ARG = typer.Argument(..., help="The user's email or id")
ACTOR = "cli"


@contextmanager
def _user(ident: str) -> Iterator[tuple[Session, User]]:
    with db_session() as session:
        yield session, _found(session, ident, "user")


def _found(session: Session, ident: str, what: str) -> User:
    from service.user_admin import find_user

    user = find_user(session, ident)
    if user is None:
        fail(f"{what}: no user {ident!r}")
    return user


def _now() -> Any:
    from service.db.types import utcnow

    return utcnow()


def _idle() -> Any:
    from datetime import timedelta

    return timedelta(minutes=settings().session_idle_minutes)


def _print_rows(rows: list[dict[str, Any]], key: str, as_json: bool) -> None:
    import json

    rows = [{k: when(v) if hasattr(v, "tzinfo") else v for k, v in r.items()} for r in rows]
    if as_json:
        typer.echo(json.dumps({key: rows}, default=str))
        return
    for row in rows:
        typer.echo("  ".join(f"{k}={'' if v is None else v}" for k, v in row.items()))


@users.command("list")
def list_users(as_json: bool = json_option()) -> None:
    """Every account: role, clinic, active or not, live sessions, API keys, last sign-in."""
    from service.user_admin import list_users as summaries

    with db_session() as session:
        rows = [
            {"id": s.user.id, "email": s.user.email, "role": s.user.role,
             "clinic_id": s.user.clinic_id, "active": s.user.is_active,
             "sessions": s.sessions, "keys": s.keys, "last_login_at": s.user.last_login_at}
            for s in summaries(session, now=_now(), idle=_idle())
        ]  # fmt: skip
    _print_rows(rows, "users", as_json)


def _change(ident: str, as_json: bool, change: Callable[[Session, User], dict[str, Any]]) -> None:
    from service.accounts import AccountError

    with _user(ident) as (session, user):
        try:
            result = change(session, user)
        except AccountError as exc:
            fail(str(exc))
        emit({"id": user.id, "email": user.email, **result}, as_json=as_json)


@users.command("deactivate")
def deactivate(user: str = USER_ARG, as_json: bool = json_option()) -> None:
    """Stop a user: their sessions end and their API keys stop working."""
    from service.user_admin import set_active

    _change(user, as_json, lambda s, u: {"active": False, "sessions_ended": set_active(
        s, u, active=False, actor=ACTOR, now=_now())})  # fmt: skip


@users.command("activate")
def activate(user: str = USER_ARG, as_json: bool = json_option()) -> None:
    """Let a deactivated user sign in again."""
    from service.user_admin import set_active

    _change(user, as_json, lambda s, u: {"active": True, "sessions_ended": set_active(
        s, u, active=True, actor=ACTOR, now=_now())})  # fmt: skip


@users.command("reset-password")
def reset_password(
    user: str = USER_ARG,
    password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="AFTERCARE_USER_PASSWORD",
        help="Asked for, or env AFTERCARE_USER_PASSWORD",
    ),
    as_json: bool = json_option(),
) -> None:
    """Set a new password (at least 12 characters); every session of the user ends."""
    from service import user_admin

    _change(user, as_json, lambda s, u: {"sessions_ended": user_admin.reset_password(
        s, u, password=password, actor=ACTOR, now=_now())})  # fmt: skip


@users.command("set-role")
def set_role(
    user: str = USER_ARG,
    role: Role = typer.Option(..., help="staff, clinic_admin, operator or admin"),
    clinic: str | None = typer.Option(
        None, help="Clinic slug or id (required for staff and clinic_admin)"
    ),
    as_json: bool = json_option(),
) -> None:
    """Change a user's role (and clinic); their sessions end."""
    from service import user_admin

    def change(session: Session, found: User) -> dict[str, Any]:
        ended = user_admin.set_role(session, found, role=role, actor=ACTOR, now=_now(),
                                    clinic_id=clinic_id_of(session, clinic))  # fmt: skip
        return {"role": found.role, "clinic_id": found.clinic_id, "sessions_ended": ended}

    _change(user, as_json, change)


@users.command("unlock")
def unlock(user: str = USER_ARG, as_json: bool = json_option()) -> None:
    """Forget the failed sign-ins counted against a user's email (ends any wait)."""
    from service import user_admin

    _change(user, as_json, lambda s, u: {"throttles_cleared": user_admin.unlock(
        s, u, actor=ACTOR)})  # fmt: skip


@users.command("sessions")
def list_sessions(user: str = USER_ARG, as_json: bool = json_option()) -> None:
    """A user's live web sessions."""
    from service.sessions import live_for

    with _user(user) as (session, found):
        assert found.id is not None
        rows = [
            {"id": r.id, "created_at": r.created_at, "last_seen_at": r.last_seen_at,
             "expires_at": r.expires_at, "user_agent": r.user_agent}
            for r in live_for(session, user_id=found.id, now=_now(), idle=_idle())
        ]  # fmt: skip
    _print_rows(rows, "sessions", as_json)


@users.command("end-sessions")
def end_sessions(user: str = USER_ARG, as_json: bool = json_option()) -> None:
    """Sign a user out everywhere now."""
    from service import user_admin

    _change(user, as_json, lambda s, u: {"sessions_ended": user_admin.end_sessions(
        s, u, actor=ACTOR, now=_now())})  # fmt: skip


@apikeys.command("list")
def list_keys(
    user: str | None = typer.Option(None, help="Only this user's keys (email or id)"),
    as_json: bool = json_option(),
) -> None:
    """API keys: id, prefix (the `ac_<prefix>_` the key starts with), owner, state."""
    from service.db.models import User
    from service.user_admin import keys_of

    with db_session() as session:
        owner_id = _found(session, user, "--user").id if user is not None else None
        rows = []
        for key in keys_of(session, owner_id):
            owner_row = session.get(User, key.user_id)
            rows.append({"id": key.id, "prefix": key.prefix, "name": key.name,
                         "user": owner_row.email if owner_row else None,
                         "created_at": key.created_at, "last_used_at": key.last_used_at,
                         "revoked_at": key.revoked_at})  # fmt: skip
    _print_rows(rows, "keys", as_json)


@apikeys.command("revoke")
def revoke_key(
    key: str = typer.Argument(..., help="The key's id, its prefix, or the key itself"),
    as_json: bool = json_option(),
) -> None:
    """Revoke an API key: it stops working at once."""
    from service.user_admin import find_key
    from service.user_admin import revoke_key as revoke

    with db_session() as session:
        row = find_key(session, key)
        if row is None:
            fail("key: no such API key")
        changed = revoke(session, row, actor=ACTOR, now=_now())
        emit({"id": row.id, "prefix": row.prefix, "revoked_at": row.revoked_at,
              "already_revoked": not changed}, as_json=as_json)  # fmt: skip
