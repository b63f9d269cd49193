"""Sign in, sign out, and the landing redirect by role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from service.api.deps import SessionDep, SettingsDep
from service.db.types import utcnow
from service.domain import Role
from service.web.auth import active_user, attempt_login
from service.web.deps import CsrfDep, ViewerDep, WebRoute, page
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
    if web and active_user(session, web.user_id, now=utcnow()):
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
    outcome = attempt_login(session, email=email, password=password, now=now)
    if outcome.user is None or outcome.user.id is None:
        web = read_session(request, settings) or WebSession.anonymous()
        context = {"csrf": web.csrf, "next": next, "error": outcome.error, "email": email}
        return page(request, "login.html", None, status_code=401, **context)
    response = RedirectResponse(safe_next(next, home_for(Role(outcome.user.role))), status_code=303)
    write_session(response, WebSession.for_user(outcome.user.id, now), settings)
    return response


@router.post("/app/logout", dependencies=[CsrfDep])
def logout(settings: SettingsDep, viewer: ViewerDep) -> Response:
    response = RedirectResponse("/app/login?done=loggedout", status_code=303)
    clear_session(response, settings)
    return response
