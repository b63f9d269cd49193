"""Sign in, sign out, and the landing redirect by role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from service import sessions
from service.api.deps import SessionDep, SettingsDep
from service.db.models import UserSession
from service.db.types import utcnow
from service.domain import Role
from service.web.auth import attempt_login
from service.web.deps import CsrfDep, ViewerDep, WebRoute, page, signed_in
from service.web.session import WebSession, clear_session, read_session, write_session

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def home_for(role: Role) -> str:
    return "/app/ops/messages" if role == Role.OPERATOR else "/app/alerts"


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site paths under /app/: never an open redirect."""
    if target and target.startswith("/app/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


@router.get("/")
def root() -> Response:
    return RedirectResponse("/app/", status_code=303)


@router.get("/app/")
def landing(viewer: ViewerDep) -> Response:
    return RedirectResponse(home_for(viewer.role), status_code=303)


@router.get("/app/login")
def login_form(
    request: Request, session: SessionDep, settings: SettingsDep, next: str = ""
) -> Response:
    web = read_session(request, settings)
    if signed_in(session, web, settings) is not None:
        return RedirectResponse(safe_next(next, "/app/"), status_code=303)
    web = web or WebSession.anonymous()
    response = page(request, "login.html", None, csrf=web.csrf, next=next, error=None, email="")
    write_session(response, web, settings)
    return response


@router.post("/app/login", dependencies=[CsrfDep])
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    now = utcnow()
    email = email.replace("\x00", "")[:254]
    client = request.client.host if request.client else "unknown"
    outcome = attempt_login(session, email=email, password=password, client=client, now=now)
    web = read_session(request, settings)
    if outcome.user is None:
        context = {"csrf": (web or WebSession.anonymous()).csrf, "next": next,
                   "error": outcome.error, "email": email}  # fmt: skip
        response = page(request, "login.html", None, status_code=429 if outcome.retry_after
                        else 401, **context)  # fmt: skip
        if outcome.retry_after:
            response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    previous = signed_in(session, web, settings)
    if previous is not None:  # another sign-in in this browser ends
        sessions.revoke(session, previous.row, now=now, reason="replaced")
    token = sessions.start(session, user=outcome.user, now=now,
                           user_agent=request.headers.get("User-Agent"))  # fmt: skip
    response = RedirectResponse(safe_next(next, home_for(Role(outcome.user.role))), status_code=303)
    write_session(response, WebSession.signed_in(token), settings)
    return response


@router.post("/app/logout", dependencies=[CsrfDep])
def logout(session: SessionDep, settings: SettingsDep, viewer: ViewerDep) -> Response:
    row = session.get(UserSession, viewer.session_id)
    if row is not None:
        sessions.revoke(session, row, now=utcnow(), reason="logout")
    response = RedirectResponse("/app/login?done=loggedout", status_code=303)
    clear_session(response, settings)
    return response
