"""Patients REST: create (validated, normalised, idempotent) and read.

Staff work in their own clinic (another clinic's patient is 404); admins name the clinic
with `clinic_id` unless their account belongs to one; operators may not touch patients.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field
from sqlmodel import Session

from service.accounts import Principal
from service.api import errors
from service.api.deps import (
    NOT_FOUND,
    ClinicalDep,
    DbId,
    SessionDep,
    ensure_visible,
    invalid,
    invalid_fields,
    visible_row,
)
from service.api.routers.plans import CatalogDep
from service.audit import record_audit
from service.db.models import Clinic, Patient
from service.domain import ActorType
from service.patients import (
    PatientError,
    PatientInput,
    clean_patient,
    find_or_create,
    normalise_language,
)

router = APIRouter(prefix="/api/v1/patients", tags=["patients"], responses=errors.AUTHENTICATED)


class PatientCreate(errors.Input):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(default="", max_length=100)
    phone: str | None = Field(
        default=None,
        max_length=32,
        description="With + and the country code (any country), or national digits read in "
        "`country` (default: the clinic's region)",
    )
    country: str | None = Field(
        default=None,
        max_length=2,
        description="ISO 3166 code (GB, ES, MX...) of a phone number written without +",
    )
    email: str | None = Field(default=None, max_length=254)
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA name; default: the clinic's"
    )
    language: str = Field(default="en", max_length=8)
    external_ref: str | None = Field(default=None, max_length=64)
    sms_consent: bool = True
    email_consent: bool = True
    clinic_id: DbId | None = Field(default=None, description="Required for admins without one")


class PatientPublic(BaseModel):
    id: int
    clinic_id: int
    external_ref: str | None
    first_name: str
    last_name: str
    phone: str | None
    phone_can_sms: bool
    email: str | None
    timezone: str
    language: str
    sms_opted_out_at: datetime | None
    email_opted_out_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, patient: Patient) -> PatientPublic:
        return cls.model_validate(patient, from_attributes=True)


def request_now(request: Request) -> datetime:
    """The current instant; tests set `app.state.clock` to freeze it."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)


NowDep = Annotated[datetime, Depends(request_now)]


def check_language(language: str, available: list[str] | tuple[str, ...], *, field: str) -> None:
    """422 naming `field` for a language no plan can speak (never silently English). A
    code that is not a language code at all is left to `clean_patient`, which names it
    with every other bad field."""
    try:
        value = normalise_language(language)
    except PatientError:
        return
    if value not in available:
        raise invalid(field, f"no messages in {value!r} (available: {', '.join(available)})")


def resolve_clinic(session: Session, principal: Principal, clinic_id: int | None) -> Clinic:
    """The clinic a write applies to: the caller's own, or the one an admin names."""
    wanted = clinic_id if clinic_id is not None else principal.clinic_id
    if wanted is None:
        raise invalid("clinic_id", "required: your account does not belong to a clinic")
    ensure_visible(principal, wanted)
    clinic = session.get(Clinic, wanted)
    if clinic is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return clinic


def create_or_find(
    session: Session,
    *,
    principal: Principal,
    clinic: Clinic,
    body: PatientCreate,
    now: datetime,
    prefix: str = "",
) -> tuple[Patient, bool]:
    data = PatientInput(
        first_name=body.first_name,
        last_name=body.last_name,
        phone=body.phone,
        email=body.email,
        timezone=body.timezone,
        language=body.language,
        external_ref=body.external_ref,
        sms_consent=body.sms_consent,
        email_consent=body.email_consent,
        consent_source=f"api:{principal.label}",
        country=body.country,
    )
    try:
        clean = clean_patient(data, clinic=clinic)
    except PatientError as exc:  # every bad field at once
        fields = [(problem.field, problem.message) for problem in exc.problems]
        raise invalid_fields(fields, prefix=prefix) from None
    patient, created = find_or_create(session, clinic=clinic, clean=clean, now=now)
    if created:
        record_audit(
            session,
            actor_type=ActorType.USER,
            actor=principal.label,
            action="patient.create",
            entity_type="patient",
            entity_id=patient.id,
            clinic_id=clinic.id,
        )
    return patient, created


@router.post(
    "",
    response_model=PatientPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": PatientPublic, "description": "The clinic's existing patient"},
        **errors.NOT_FOUND,
        **errors.CONFLICT,
    },
)
def create_patient(
    body: PatientCreate,
    response: Response,
    session: SessionDep,
    principal: ClinicalDep,
    catalog: CatalogDep,
    now: NowDep,
) -> PatientPublic:
    """Create a patient (201), or return the same clinic's existing one (200)."""
    clinic = resolve_clinic(session, principal, body.clinic_id)
    check_language(body.language, catalog.languages(), field="language")
    patient, created = create_or_find(
        session, principal=principal, clinic=clinic, body=body, now=now
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return PatientPublic.of(patient)


@router.get("/{patient_id}", response_model=PatientPublic, responses=errors.NOT_FOUND)
def get_patient(patient_id: DbId, session: SessionDep, principal: ClinicalDep) -> PatientPublic:
    return PatientPublic.of(visible_row(session, principal, Patient, patient_id))
