"""Who is looking at a page, what they may see, and the CSRF check on every form.

Web views raise `WebError`s; `WebRoute` turns them into HTML pages (or a redirect to
the login page) instead of the REST API's JSON errors. Another clinic's record is a
404, exactly like a record that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from sqlmodel import Session

from service import sessions
from service.accounts import Principal, principal_for_user
from service.api.deps import SessionDep, SettingsDep
from service.config import Settings
from service.db.models import User
from service.db.types import utcnow
from service.domain import CLINICAL_ROLES, Role
from service.web.reply_data import unread_count
from service.web.session import WebSession, csrf_matches, read_session
from service.web.templating import render

LOGIN_PATH = "/app/login"
REPLIES_PATH = "/app/replies"


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    count: int = 0  # shown beside the label (unread replies)


_STAFF_NAV = (
    NavItem("/app/replies", "Replies"),
    NavItem("/app/alerts", "Alerts"),
    NavItem("/app/patients", "Patients"),
    NavItem("/app/enrol", "Enrol"),
    NavItem("/app/import", "Import CSV"),
    NavItem("/app/oncall", "On-call"),
)
_OPS_NAV = (
    NavItem("/app/ops/messages", "Delivery log"),
    NavItem("/app/ops/charts", "Charts"),
    NavItem("/app/ops/health", "Worker health"),
)
_TEXTS = NavItem("/app/content", "Texts")  # a clinic's own wording of plan messages
_SETTINGS_NAV = (NavItem("/app/settings", "Settings"),)  # a clinic's settings


def nav_for(role: Role | None) -> tuple[NavItem, ...]:
    if role == Role.STAFF:
        return _STAFF_NAV
    if role == Role.CLINIC_ADMIN:
        return (*_STAFF_NAV, _TEXTS, *_SETTINGS_NAV)
    if role == Role.OPERATOR:
        return _OPS_NAV
    if role == Role.ADMIN:
        return (
            _STAFF_NAV
            + _OPS_NAV
            + (
                NavItem("/app/plans", "Plans"),
                _TEXTS,
                NavItem("/app/admin/users", "Users"),
            )
            + _SETTINGS_NAV
        )
    return ()


@dataclass(frozen=True)
class Viewer:
    user: User
    principal: Principal
    web: WebSession
    session_id: int  # the user_sessions row this browser is signed in with
    unread_replies: int = 0

    @property
    def role(self) -> Role:
        return self.principal.role

    @property
    def csrf(self) -> str:
        return self.web.csrf

    @property
    def clinic_id(self) -> int | None:
        return self.principal.clinic_id

    @property
    def nav(self) -> tuple[NavItem, ...]:
        return tuple(
            replace(item, count=self.unread_replies) if item.href == REPLIES_PATH else item
            for item in nav_for(self.role)
        )

    def can_see(self, clinic_id: int | None) -> bool:
        return self.principal.can_see_clinic(clinic_id)


class WebError(Exception):
    status_code = 400
    title = "Something went wrong"

    def __init__(self, message: str = "", *, back: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.back = back  # where the person should go next

    def response(self, request: Request) -> Response:
        context: dict[str, Any] = {
            "viewer": None,
            "notice": None,
            "title": self.title,
            "message": self.message,
            "back": self.back,
            "status": self.status_code,
        }
        return render(request, "error.html", context, status_code=self.status_code)


class LoginRequired(WebError):
    def response(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)


class Forbidden(WebError):
    status_code = 403
    title = "Not allowed"


class NotFound(WebError):
    status_code = 404
    title = "Not found"


class Conflict(WebError):
    status_code = 409
    title = "Already changed"


class CsrfFailed(WebError):
    status_code = 403
    title = "Form expired"


class WebRoute(APIRoute):
    """Routes whose WebErrors (raised in views or dependencies) become HTML pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except WebError as exc:
                return exc.response(request)

        return guarded


# What a person is told for each status met outside a view: a title, and the message
# used when the error carries no words of its own (Starlette's "Not Found" and the like).
_FAILURES: dict[int, tuple[str, str]] = {
    400: ("That request could not be read", "Go back and try again."),
    401: ("Please sign in", "Sign in to see this page."),
    403: ("Not allowed", "Your account cannot open this page."),
    404: ("Page not found", "There is no page at this address. It may have been moved, or "
          "the link may be mistyped."),
    405: ("That action is not available here", "This address cannot be used that way. Go "
          "back and use the page's own buttons."),
    409: ("Already changed", "Someone changed this meanwhile. Reload the page and try again."),
    413: ("Too large", "The form or file is too large to send."),
    422: ("Please check what was sent", "Something in the link or form is not valid."),
    429: ("Too many attempts", "Please wait a moment and try again."),
    500: ("Something went wrong on our side", "The problem has been logged. Nothing you "
          "entered is wrong: try again in a moment, and tell your administrator if it "
          "keeps happening."),
    503: ("Not saved", "The service is busy or restarting: nothing was changed. Try again "
          "in a moment."),
}  # fmt: skip
_GENERIC = {"Not Found", "Method Not Allowed", "Internal Server Error", "Bad Request"}


class HttpFailure(WebError):
    title = "That did not work"

    def __init__(self, status_code: int, detail: object) -> None:
        title, fallback = _FAILURES.get(status_code, (self.title, ""))
        message = _readable(detail)
        super().__init__(fallback if not message or message in _GENERIC else message)
        self.status_code = status_code
        self.title = title


def _readable(detail: object) -> str:
    if isinstance(detail, list):  # a 422 naming fields
        return "; ".join(f"{d.get('field')}: {d.get('msg')}" for d in detail if isinstance(d, dict))
    return str(detail)


def error_page(request: Request, status_code: int, detail: object) -> Response:
    """An HTTP error met outside a view (a commit that failed as the view returned: see
    service.api.deps.get_session) as a page, for the web app's paths."""
    return HttpFailure(status_code, detail).response(request)


def get_viewer(request: Request, session: SessionDep, settings: SettingsDep) -> Viewer:
    web = read_session(request, settings)
    active = signed_in(session, web, settings)
    if web is None or active is None or active.row.id is None:
        raise LoginRequired()
    user = active.user
    principal = principal_for_user(user)
    unread = 0
    if principal.role in CLINICAL_ROLES:
        unread = unread_count(session, clinic_id=principal.clinic_id)  # the navigation's count
    return Viewer(user=user, principal=principal, web=web, session_id=active.row.id,
                  unread_replies=unread)  # fmt: skip


def signed_in(
    session: Session, web: WebSession | None, settings: Settings
) -> sessions.Active | None:
    """The live server-side session this cookie names, if any."""
    idle = timedelta(minutes=settings.session_idle_minutes)
    return sessions.find(session, web.token if web else None, now=utcnow(), idle=idle)


def _require(*roles: Role) -> Callable[[Viewer], Viewer]:
    def check(viewer: Annotated[Viewer, Depends(get_viewer)]) -> Viewer:
        if viewer.role not in roles:
            raise Forbidden("Your account cannot open this page.")
        return viewer

    return check


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
StaffDep = Annotated[Viewer, Depends(_require(*CLINICAL_ROLES))]  # a clinic's people, admins
ClinicAdminDep = Annotated[Viewer, Depends(_require(Role.CLINIC_ADMIN, Role.ADMIN))]
OpsDep = Annotated[Viewer, Depends(_require(Role.OPERATOR, Role.ADMIN))]
AdminDep = Annotated[Viewer, Depends(_require(Role.ADMIN))]


async def check_csrf(request: Request, settings: SettingsDep) -> None:
    """Every state-changing form posts the session's token (session-bound CSRF token)."""
    form = await request.form()
    submitted = form.get("csrf_token")
    token = submitted if isinstance(submitted, str) else None
    if not csrf_matches(read_session(request, settings), token):
        raise CsrfFailed(
            "This form has expired or did not come from this site. Reload the page and try again."
        )


CsrfDep = Depends(check_csrf)


def page(request: Request, name: str, viewer: Viewer | None, **context: Any) -> Response:
    """Render a page with the viewer, navigation, CSRF token and any notice available."""
    status_code = context.pop("status_code", 200)
    notice = NOTICES.get(request.query_params.get("done", ""))
    base = {"viewer": viewer, "notice": notice}
    return render(request, name, base | context, status_code=status_code)


# After a POST the browser is redirected with ?done=<code>; only these fixed texts show,
# so a crafted link cannot put words on the page.
NOTICES = {
    "deactivated": "Account deactivated: its sessions ended and its API keys stopped working.",
    "activated": "Account active again.",
    "unlocked": "Failed sign-ins for this account are forgotten: it may sign in at once.",
    "sessions_ended": "Every session of this account ended.",
    "session_ended": "Session ended.",
    "password_reset": "Password changed: every session of this account ended.",
    "key_revoked": "API key revoked: it stopped working.",
    "enrolled": "Patient enrolled. Their plan is below.",
    "already": "This patient was already enrolled in this plan for this date.",
    "enrolled_shared": (
        "Patient enrolled. Their phone number also belongs to another patient of the clinic "
        "(see Contact below): a reply from it is filed under the patient texted last, "
        "otherwise you choose whose it is."
    ),
    "enrolled_late": (
        "Patient enrolled, but the procedure date is in the past: messages that were too "
        "late to be useful will not be sent (see the enrolment below)."
    ),
    "paused": "Enrolment paused: nothing more will be sent until it is resumed.",
    "resumed": "Enrolment resumed.",
    "cancelled": "Enrolment cancelled: no further messages will be sent.",
    "rescheduled": "Procedure date changed; unsent messages were rescheduled.",
    "acknowledged": "Alert acknowledged.",
    "handled": "Reply marked handled.",
    "assigned": "Reply attributed to the patient (written to the audit log).",
    "replied": "Your reply is being sent now.",
    "resolved": "Alert resolved.",
    "oncall": "On-call list saved.",
    "settings": "Settings saved (and written to the audit log); messages not yet sent follow them.",
    "loggedout": "You are signed out.",
    "simulated": "Reply simulated: it came in through the SMS webhook like a real text.",
    "signedoff": "Sign-off recorded (and written to the audit log).",
}
