"""A clinic's on-call list over REST: staff of the clinic read it; its clinic admins
(and admins) replace it, as one of the clinic's settings (service.api.routers.
clinic_settings has the rest).

An entry that would page nobody (no phone or email, or none for the channel it is paged
by) is refused with a 422 naming it; an empty list is allowed (urgent pages then go to
the clinic's main number) and answered with a warning.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field
from sqlmodel import Session

from service.accounts import Principal
from service.api import errors
from service.api.deps import (
    NOT_FOUND,
    ClinicAdminDep,
    ClinicalDep,
    DbId,
    SessionDep,
    ensure_visible,
)
from service.api.routers.patients import invalid
from service.clinics import (
    ClinicChanges,
    ClinicError,
    OnCall,
    missing_warning,
    oncall_list,
    update_clinic,
)
from service.db.models import Clinic

router = APIRouter(prefix="/api/v1/clinics", tags=["clinics"], responses=errors.AUTHENTICATED)


class OnCallPerson(errors.Input):
    name: str = Field(max_length=200)
    phone: str | None = Field(
        default=None, max_length=32, description="Mobile, parsed in the clinic's region"
    )
    email: str | None = Field(default=None, max_length=254)
    page_by: Literal["both", "sms", "email"] = Field(
        default="both", description="Paged by text, email, or both (every address given)"
    )


class OnCallUpdate(errors.Input):
    oncall: list[OnCallPerson] = Field(
        max_length=50, description="In escalation order: the first is paged first"
    )


class OnCallPublic(BaseModel):
    clinic_id: int
    oncall: list[OnCallPerson]
    warnings: list[str]


def clinic_for(session: Session, principal: Principal, clinic_id: int) -> Clinic:
    """The clinic by id if the caller may see it (else 404, as for a missing one)."""
    ensure_visible(principal, clinic_id)
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return clinic


def _public(session: Session, clinic: Clinic) -> OnCallPublic:
    rows = oncall_list(session, clinic)
    warning = missing_warning(clinic, len(rows))
    return OnCallPublic(
        clinic_id=clinic.id or 0,
        oncall=[
            OnCallPerson(name=r.name, phone=r.phone, email=r.email, page_by=r.page_by) for r in rows
        ],
        warnings=[warning] if warning else [],
    )


@router.get("/{clinic_id}/oncall", response_model=OnCallPublic, responses=errors.NOT_FOUND)
def get_oncall(clinic_id: DbId, session: SessionDep, principal: ClinicalDep) -> OnCallPublic:
    """Who is paged for an urgent reply, in escalation order."""
    return _public(session, clinic_for(session, principal, clinic_id))


@router.put(
    "/{clinic_id}/oncall",
    response_model=OnCallPublic,
    responses={**errors.NOT_FOUND, **errors.CONFLICT},
)
def put_oncall(
    clinic_id: DbId, body: OnCallUpdate, session: SessionDep, principal: ClinicAdminDep
) -> OnCallPublic:
    """Replace the on-call list; every entry needs a phone or an email (the one its
    channel needs). Clinic admins of the clinic and admins only."""
    clinic = clinic_for(session, principal, clinic_id)
    people = [OnCall(p.name, p.phone, p.email, p.page_by) for p in body.oncall]
    try:
        update_clinic(session, clinic, ClinicChanges(oncall=people), actor=principal.label)
    except ClinicError as exc:
        raise invalid(exc.field, exc.message) from None
    return _public(session, clinic)
