"""Pause, resume, cancel and reschedule an enrolment: forms over the domain use cases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from service import enrollment as use_cases
from service.api.deps import SessionDep, SettingsDep
from service.api.routers.plans import RendererDep
from service.csv_import import parse_procedure_at
from service.db.models import Clinic, Enrollment, Patient
from service.db.types import utcnow
from service.plans.model import PlanError
from service.plans.store import load_pinned
from service.web.access import visible
from service.web.deps import Conflict, CsrfDep, StaffDep, WebError, WebRoute
from service.web.forms import FormDep

router = APIRouter(route_class=WebRoute, include_in_schema=False)

_SIMPLE: dict[str, tuple[Callable[..., Any], str]] = {
    "pause": (use_cases.pause, "paused"),
    "resume": (use_cases.resume, "resumed"),
    "cancel": (use_cases.cancel, "cancelled"),
}


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
