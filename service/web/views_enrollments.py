"""Pause, resume, cancel and reschedule an enrolment: forms over the domain use cases.

Cancelling is the one that cannot be taken back without losing what fell due meanwhile,
so it has its own page: what will not be sent, a required reason (kept on the enrolment,
on every cancelled message and in the audit log), and a separate button to confirm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from service import enrollment as use_cases
from service.api.deps import SessionDep, SettingsDep
from service.api.routers.plans import RendererDep
from service.csv_import import parse_procedure_at
from service.db.models import Clinic, Enrollment, Patient
from service.db.types import utcnow
from service.domain import EnrollmentStatus
from service.enrollment.operations import pending_rows
from service.plans.model import PlanError
from service.plans.store import load_pinned
from service.web.access import visible
from service.web.deps import Conflict, CsrfDep, StaffDep, Viewer, WebError, WebRoute, page
from service.web.forms import FormData, FormDep
from service.web.timeline_text import enrollment_word

router = APIRouter(route_class=WebRoute, include_in_schema=False)

_SIMPLE: dict[str, tuple[Callable[..., Any], str]] = {
    "pause": (use_cases.pause, "paused"),
    "resume": (use_cases.resume, "resumed"),
}
CANCEL_REASON_MAX = 500


class Invalid(WebError):
    status_code = 422
    title = "Please check the form"


def _page(enrollment: Enrollment) -> str:
    return f"/app/patients/{enrollment.patient_id}#enrollment-{enrollment.id}"


def _back(enrollment: Enrollment, done: str) -> Response:
    target = f"/app/patients/{enrollment.patient_id}?done={done}#enrollment-{enrollment.id}"
    return RedirectResponse(target, status_code=303)


# Registered before the generic /{action} route, which would otherwise match it.
@router.post("/app/enrollments/{enrollment_id}/reschedule", dependencies=[CsrfDep])
def reschedule(
    session: SessionDep,
    settings: SettingsDep,
    renderer: RendererDep,
    viewer: StaffDep,
    form: FormDep,
    enrollment_id: int,
) -> Response:
    enrollment = visible(session, viewer, Enrollment, enrollment_id)
    patient = session.get(Patient, enrollment.patient_id)
    clinic = session.get(Clinic, enrollment.clinic_id)
    assert patient is not None and clinic is not None  # foreign keys
    now = utcnow()
    try:
        when = parse_procedure_at(form.get("procedure_at"), patient.timezone, now)
        use_cases.reschedule(
            session,
            clinic=clinic,
            enrollment=enrollment,
            plan=load_pinned(session, enrollment.plan_key, enrollment.plan_version),
            procedure_at=when,
            now=now,
            actor=viewer.principal.label,
            daily_cap=settings.patient_daily_cap,
            renderer=renderer,
            reason=form.get("reason")[:500] or None,
        )
    except use_cases.EnrolError as exc:
        error = Conflict if exc.conflict else Invalid
        raise error(f"New procedure date: {exc.message}", back=_page(enrollment)) from None
    except PlanError as exc:
        raise Conflict(str(exc), back=_page(enrollment)) from None
    return _back(enrollment, "rescheduled")


@router.get("/app/enrollments/{enrollment_id}/cancel")
def cancel_form(
    request: Request, session: SessionDep, viewer: StaffDep, enrollment_id: int
) -> Response:
    enrollment = visible(session, viewer, Enrollment, enrollment_id)
    return _cancel_page(request, session, viewer, enrollment, FormData({}, {}))


@router.post("/app/enrollments/{enrollment_id}/cancel", dependencies=[CsrfDep])
def cancel(
    request: Request, session: SessionDep, viewer: StaffDep, form: FormDep, enrollment_id: int
) -> Response:
    enrollment = visible(session, viewer, Enrollment, enrollment_id)
    reason = form.get("reason")
    if not reason:
        form.error("reason", "Say why the plan is cancelled: it is kept in the patient's record.")
    elif len(reason) > CANCEL_REASON_MAX:
        form.error("reason", f"At most {CANCEL_REASON_MAX} characters.")
    elif "\x00" in reason:
        form.error("reason", "Must not contain NUL characters.")
    if form.errors:
        return _cancel_page(request, session, viewer, enrollment, form)
    try:
        use_cases.cancel(session, enrollment=enrollment, now=utcnow(),
                         actor=viewer.principal.label, reason=reason)  # fmt: skip
    except use_cases.EnrolError as exc:
        raise Conflict(exc.message, back=_page(enrollment)) from None
    return _back(enrollment, "cancelled")


def _cancel_page(
    request: Request, session: Session, viewer: Viewer, enrollment: Enrollment, form: FormData
) -> Response:
    if enrollment.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED):
        word = enrollment_word(enrollment.status)
        raise Conflict(f"This plan is {word}: there is nothing to cancel.", back=_page(enrollment))
    patient = session.get(Patient, enrollment.patient_id)
    assert patient is not None  # foreign key
    pending = pending_rows(session, enrollment)
    return page(request, "enrollment_cancel.html", viewer, e=enrollment, p=patient, form=form,
                pending=len(pending), next_due=pending[0].due_at if pending else None,
                plan_title=plan_title(session, enrollment),
                status_code=422 if form.errors else 200)  # fmt: skip


@router.post("/app/enrollments/{enrollment_id}/{action}", dependencies=[CsrfDep])
def change_status(
    session: SessionDep, viewer: StaffDep, form: FormDep, enrollment_id: int, action: str
) -> Response:
    if action not in _SIMPLE:
        raise Invalid(f"Unknown action {action!r}.")
    enrollment = visible(session, viewer, Enrollment, enrollment_id)
    operation, done = _SIMPLE[action]
    try:
        operation(
            session,
            enrollment=enrollment,
            now=utcnow(),
            actor=viewer.principal.label,
            reason=form.get("reason")[:500] or None,
        )
    except use_cases.EnrolError as exc:
        raise Conflict(exc.message, back=_page(enrollment)) from None
    return _back(enrollment, done)


def plan_title(session: Session, enrollment: Enrollment) -> str:
    """The enrolment's plan by its title ("Botox aftercare"), its key if it cannot load."""
    try:
        return load_pinned(session, enrollment.plan_key, enrollment.plan_version).title
    except PlanError:
        return enrollment.plan_key
