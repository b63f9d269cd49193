"""Accounts for admins: every user, their sessions and API keys, and the changes an
admin makes to them (deactivate, reset a password, unlock, end sessions, revoke a key).

Each change goes through service.user_admin, which audits it with the admin as actor.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session, select

from service import user_admin
from service.accounts import AccountError
from service.api.deps import DbId, SessionDep, SettingsDep
from service.config import Settings
from service.db.models import ApiKey, Clinic, User, UserSession
from service.db.types import utcnow
from service.sessions import live_for
from service.web.deps import AdminDep, Conflict, CsrfDep, NotFound, Viewer, WebRoute, page
from service.web.forms import FormData, FormDep

router = APIRouter(route_class=WebRoute, include_in_schema=False)
_Owned = TypeVar("_Owned", UserSession, ApiKey)


def _idle(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.session_idle_minutes)


@router.get("/app/admin/users")
def users_page(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: AdminDep
) -> Response:
    rows = user_admin.list_users(session, now=utcnow(), idle=_idle(settings))
    clinics = {c.id: c.name for c in session.exec(select(Clinic))}
    return page(request, "users.html", viewer, rows=rows, clinics=clinics)


@router.get("/app/admin/users/{user_id}")
def user_page(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: AdminDep,
    user_id: DbId,
) -> Response:  # fmt: skip
    return _user_page(request, session, settings, viewer, _user(session, user_id), FormData({}, {}))


def _user_page(
    request: Request, session: Session, settings: Settings, viewer: Viewer, user: User,
    form: FormData,
) -> Response:  # fmt: skip
    assert user.id is not None
    clinic = session.get(Clinic, user.clinic_id) if user.clinic_id else None
    return page(
        request, "user.html", viewer, user=user, clinic=clinic, form=form,
        sessions=live_for(session, user_id=user.id, now=utcnow(), idle=_idle(settings)),
        keys=user_admin.keys_of(session, user.id), own=user.id == viewer.user.id,
        current_session=viewer.session_id, status_code=422 if form.errors else 200,
    )  # fmt: skip


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("There is no user with that number.")
    return user


def _done(user: User, code: str) -> Response:
    return RedirectResponse(f"/app/admin/users/{user.id}?done={code}", status_code=303)


@router.post("/app/admin/users/{user_id}/deactivate", dependencies=[CsrfDep])
def deactivate(session: SessionDep, viewer: AdminDep, user_id: DbId) -> Response:
    user = _user(session, user_id)
    if user.id == viewer.user.id:
        raise Conflict("You cannot deactivate your own account: ask another admin.")
    user_admin.set_active(session, user, active=False, actor=viewer.principal.label, now=utcnow())
    return _done(user, "deactivated")


@router.post("/app/admin/users/{user_id}/activate", dependencies=[CsrfDep])
def activate(session: SessionDep, viewer: AdminDep, user_id: DbId) -> Response:
    user = _user(session, user_id)
    user_admin.set_active(session, user, active=True, actor=viewer.principal.label, now=utcnow())
    return _done(user, "activated")


@router.post("/app/admin/users/{user_id}/unlock", dependencies=[CsrfDep])
def unlock(session: SessionDep, viewer: AdminDep, user_id: DbId) -> Response:
    user = _user(session, user_id)
    user_admin.unlock(session, user, actor=viewer.principal.label)
    return _done(user, "unlocked")


@router.post("/app/admin/users/{user_id}/end-sessions", dependencies=[CsrfDep])
def end_sessions(session: SessionDep, viewer: AdminDep, user_id: DbId) -> Response:
    user = _user(session, user_id)
    user_admin.end_sessions(session, user, actor=viewer.principal.label, now=utcnow())
    return _done(user, "sessions_ended")


@router.post("/app/admin/users/{user_id}/password", dependencies=[CsrfDep])
def reset_password(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: AdminDep,
    form: FormDep, user_id: DbId,
) -> Response:  # fmt: skip
    user = _user(session, user_id)
    password = form.values.get("password", "")
    if password != form.values.get("confirm", ""):
        form.error("password", "The two passwords are not the same.")
    else:
        try:
            user_admin.reset_password(session, user, password=password,
                                      actor=viewer.principal.label, now=utcnow())  # fmt: skip
        except AccountError as exc:
            form.error("password", str(exc).removeprefix("password: ").capitalize() + ".")
    if form.errors:
        session.rollback()
        return _user_page(request, session, settings, viewer, user, form)
    return _done(user, "password_reset")


@router.post("/app/admin/users/{user_id}/sessions/{session_id}/end", dependencies=[CsrfDep])
def end_one_session(
    session: SessionDep, viewer: AdminDep, user_id: DbId, session_id: DbId
) -> Response:
    user = _user(session, user_id)
    row = _owned(session, UserSession, session_id, user, "session")
    user_admin.end_session(session, row, actor=viewer.principal.label, now=utcnow())
    return _done(user, "session_ended")


@router.post("/app/admin/users/{user_id}/keys/{key_id}/revoke", dependencies=[CsrfDep])
def revoke_key(session: SessionDep, viewer: AdminDep, user_id: DbId, key_id: DbId) -> Response:
    user = _user(session, user_id)
    key = _owned(session, ApiKey, key_id, user, "API key")
    user_admin.revoke_key(session, key, actor=viewer.principal.label, now=utcnow())
    return _done(user, "key_revoked")


def _owned(session: Session, model: type[_Owned], row_id: int, user: User, noun: str) -> _Owned:
    row = session.get(model, row_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"There is no such {noun}.")
    return row
