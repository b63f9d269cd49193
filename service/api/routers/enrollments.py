"""Enrolments REST: enrol (patient inline or by id), read with messages, pause, resume,
cancel, reschedule. Every change is audited with the caller's label and reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service import enrollment as use_cases
from service.accounts import Principal
from service.api import errors
from service.api.deps import (
    ClinicalDep,
    DbId,
    ReaderDep,
    SessionDep,
    SettingsDep,
    visible_row,
)
from service.api.routers.patients import (
    NowDep,
    PatientCreate,
    check_language,
    create_or_find,
    invalid,
    resolve_clinic,
)
from service.api.routers.plans import CatalogDep, RendererDep
from service.db.models import Clinic, Enrollment, Message, Patient
from service.enrollment import EnrolError
from service.plans.model import PlanError, UnknownPlan
from service.plans.store import load_pinned

router = APIRouter(
    prefix="/api/v1/enrollments", tags=["enrollments"], responses=errors.AUTHENTICATED
)


class EnrollmentCreate(errors.Input):
    patient: PatientCreate | None = Field(default=None, description="A new or existing patient")
    patient_id: DbId | None = None
    plan: str = Field(max_length=64, description="Plan key, see GET /api/v1/plans")
    procedure_at: datetime = Field(description="ISO 8601 with a UTC offset")
    clinic_id: DbId | None = Field(default=None, description="Required for admins without one")
    reason: str | None = Field(default=None, max_length=500)


class EnrollmentUpdate(errors.Input):
    procedure_at: datetime | None = Field(default=None, description="Reschedules unsent messages")
    reason: str | None = Field(default=None, max_length=500)


class StatusChange(errors.Input):
    reason: str | None = Field(default=None, max_length=500)


class MessagePublic(BaseModel):
    id: int
    step: str | None
    occurrence: int
    kind: str
    channel: str
    priority: str
    status: str
    status_reason: str | None
    due_at: datetime
    next_attempt_at: datetime
    valid_until: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, m: Message) -> MessagePublic:
        data = m.model_dump()
        data["step"] = m.step_key
        return cls.model_validate(data)


class EnrollmentPublic(BaseModel):
    id: int
    clinic_id: int
    patient_id: int
    plan_key: str
    plan_version: int
    procedure_at: datetime
    status: str
    status_reason: str | None
    paused_at: datetime | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    messages: list[MessagePublic]
    # For staff, e.g. "plan 'botox' v2 has not been signed off by a clinician".
    warnings: list[str] = []


def _public(session: Session, enrollment: Enrollment) -> EnrollmentPublic:
    query = (
        select(Message)
        .where(Message.enrollment_id == enrollment.id)
        .order_by(col(Message.due_at), col(Message.id))
    )
    messages = [MessagePublic.of(m) for m in session.exec(query)]
    data = enrollment.model_dump()
    return EnrollmentPublic.model_validate({**data, "messages": messages})


def _load(session: Session, principal: Principal, enrollment_id: int) -> Enrollment:
    return visible_row(session, principal, Enrollment, enrollment_id)


def _domain_error(exc: EnrolError) -> HTTPException:
    if exc.conflict:
        return HTTPException(status.HTTP_409_CONFLICT, exc.message)
    return invalid(exc.field, exc.message)


def _patient(
    session: Session, principal: Principal, clinic: Clinic, body: EnrollmentCreate, now: datetime
) -> Patient:
    if (body.patient is None) == (body.patient_id is None):
        raise invalid("patient", "give either patient (inline) or patient_id, not both")
    if body.patient is not None:
        inline = body.patient.model_copy(update={"clinic_id": clinic.id})
        patient, _ = create_or_find(
            session, principal=principal, clinic=clinic, body=inline, now=now, prefix="patient."
        )
        return patient
    found = session.get(Patient, body.patient_id)
    if found is None or found.clinic_id != clinic.id:
        raise invalid("patient_id", "no such patient in this clinic")
    return found


def _once(session: Session, enrol: Callable[[], use_cases.EnrolResult]) -> use_cases.EnrolResult:
    """Two identical requests racing: the loser's insert hits the unique constraint; it
    rolls back to the savepoint and finds the winner's enrolment (200, not a 500)."""
    try:
        with session.begin_nested():
            return enrol()
    except IntegrityError:
        return enrol()


@router.post(
    "",
    response_model=EnrollmentPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": EnrollmentPublic, "description": "Already enrolled: the existing one"},
        **errors.NOT_FOUND,
        **errors.CONFLICT,
    },
)
def create_enrollment(
    body: EnrollmentCreate,
    response: Response,
    session: SessionDep,
    principal: ClinicalDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    renderer: RendererDep,
    now: NowDep,
) -> EnrollmentPublic:
    """Enrol a patient in a plan: 201 new, 200 when this patient, plan and time exist."""
    clinic = resolve_clinic(session, principal, body.clinic_id)
    try:
        plan = catalog.get(body.plan)
    except UnknownPlan as exc:
        raise invalid("plan", str(exc)) from None
    if body.patient is not None:
        check_language(body.patient.language, plan.languages, field="patient.language")
    try:
        procedure_at = use_cases.check_procedure_at(body.procedure_at, now=now)
        patient = _patient(session, principal, clinic, body, now)
        enrol = partial(
            use_cases.enrol,
            session,
            clinic=clinic,
            patient=patient,
            plan=plan,
            procedure_at=procedure_at,
            now=now,
            actor=principal.label,
            daily_cap=settings.patient_daily_cap,
            renderer=renderer,
            reason=body.reason,
            require_signoff=settings.require_plan_signoff,
        )
        result = _once(session, enrol)
    except EnrolError as exc:
        raise _domain_error(exc) from None
    except PlanError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    if not result.created:
        response.status_code = status.HTTP_200_OK
    session.flush()
    public = _public(session, result.enrollment)
    public.warnings = result.warnings
    return public


@router.get("/{enrollment_id}", response_model=EnrollmentPublic, responses=errors.NOT_FOUND)
def get_enrollment(
    enrollment_id: DbId, session: SessionDep, principal: ReaderDep
) -> EnrollmentPublic:
    return _public(session, _load(session, principal, enrollment_id))


def _change(
    action: str,
    session: Session,
    principal: Principal,
    enrollment_id: DbId,
    change: StatusChange | None,
    now: datetime,
) -> EnrollmentPublic:
    enrollment = _load(session, principal, enrollment_id)
    operation: dict[str, Callable[..., int | Enrollment]] = {
        "pause": use_cases.pause, "resume": use_cases.resume, "cancel": use_cases.cancel,
    }  # fmt: skip
    try:
        operation[action](
            session,
            enrollment=enrollment,
            now=now,
            actor=principal.label,
            reason=change.reason if change else None,
        )
    except EnrolError as exc:
        raise _domain_error(exc) from None
    session.flush()
    return _public(session, enrollment)


ChangeBody = Annotated[StatusChange | None, Body()]


@router.post(
    "/{enrollment_id}/pause",
    response_model=EnrollmentPublic,
    responses={**errors.NOT_FOUND, **errors.CONFLICT},
)
def pause(
    enrollment_id: DbId,
    session: SessionDep,
    principal: ClinicalDep,
    now: NowDep,
    change: ChangeBody = None,
) -> EnrollmentPublic:
    """Hold the plan; what falls due while paused is skipped on resume, not replayed."""
    return _change("pause", session, principal, enrollment_id, change, now)


@router.post(
    "/{enrollment_id}/resume",
    response_model=EnrollmentPublic,
    responses={**errors.NOT_FOUND, **errors.CONFLICT},
)
def resume(
    enrollment_id: DbId,
    session: SessionDep,
    principal: ClinicalDep,
    now: NowDep,
    change: ChangeBody = None,
) -> EnrollmentPublic:
    """Continue the plan: a paused one skips what fell due while paused; a cancelled one
    plans the steps still ahead again from now (409 when none is left)."""
    return _change("resume", session, principal, enrollment_id, change, now)


@router.post(
    "/{enrollment_id}/cancel",
    response_model=EnrollmentPublic,
    responses={**errors.NOT_FOUND, **errors.CONFLICT},
)
def cancel(
    enrollment_id: DbId,
    session: SessionDep,
    principal: ClinicalDep,
    now: NowDep,
    change: ChangeBody = None,
) -> EnrollmentPublic:
    """Stop the plan: every pending message is cancelled with the reason."""
    return _change("cancel", session, principal, enrollment_id, change, now)


@router.patch(
    "/{enrollment_id}",
    response_model=EnrollmentPublic,
    responses={**errors.NOT_FOUND, **errors.CONFLICT},
)
def update_enrollment(
    enrollment_id: DbId,
    body: EnrollmentUpdate,
    session: SessionDep,
    principal: ClinicalDep,
    settings: SettingsDep,
    renderer: RendererDep,
    now: NowDep,
) -> EnrollmentPublic:
    """A new `procedure_at` reschedules every unsent message; sent ones stay."""
    enrollment = _load(session, principal, enrollment_id)
    if body.procedure_at is None:
        return _public(session, enrollment)
    clinic = session.get(Clinic, enrollment.clinic_id)
    assert clinic is not None  # enforced by the foreign key
    try:
        plan = load_pinned(session, enrollment.plan_key, enrollment.plan_version)
        use_cases.reschedule(
            session,
            clinic=clinic,
            enrollment=enrollment,
            plan=plan,
            procedure_at=body.procedure_at,
            now=now,
            actor=principal.label,
            daily_cap=settings.patient_daily_cap,
            renderer=renderer,
            reason=body.reason,
        )
    except EnrolError as exc:
        raise _domain_error(exc) from None
    session.flush()
    return _public(session, enrollment)
