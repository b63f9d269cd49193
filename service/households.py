"""Households: patients of one clinic who share a phone number (a parent and a teenager,
spouses, a carer). Enrolment accepts a number another patient already has, says so to
staff, and records the household in the audit log; inbound handling then decides per
reply who wrote (`service.inbound.matching`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

from sqlalchemy import func
from sqlmodel import Session, col, select

from service.audit import record_audit
from service.db.models import AuditLog, Patient
from service.db.queries import one_of
from service.domain import ActorType

ACTION = "patient.shared_phone"


class PatientLike(Protocol):
    id: int | None
    first_name: str
    last_name: str
    phone: str | None


def on_numbers(
    session: Session, *, clinic_id: int, phones: Iterable[str | None]
) -> dict[str, list[Patient]]:
    """Every patient of the clinic on each of these numbers, oldest record first."""
    wanted = sorted({phone for phone in phones if phone})
    found: dict[str, list[Patient]] = defaultdict(list)
    for start in range(0, len(wanted), 500):
        query = select(Patient).where(
            Patient.clinic_id == clinic_id, col(Patient.phone).in_(wanted[start : start + 500])
        )
        for patient in session.exec(query.order_by(col(Patient.id))):
            found[patient.phone or ""].append(patient)
    return found


def shared(
    session: Session, *, clinic_id: int, phones: Iterable[str | None]
) -> dict[str, list[Patient]]:
    """`on_numbers` for the numbers of these that more than one patient of the clinic has
    (a bulk import's check: one grouped count, and patients loaded only where shared)."""
    wanted = sorted({phone for phone in phones if phone})
    many: list[str] = []
    for start in range(0, len(wanted), 500):
        query = (
            select(col(Patient.phone))
            .where(Patient.clinic_id == clinic_id,
                   one_of(session, col(Patient.phone), wanted[start : start + 500]))
            .group_by(col(Patient.phone))
            .having(func.count() > 1)
        )  # fmt: skip
        many += [phone for phone in session.exec(query) if phone]
    return on_numbers(session, clinic_id=clinic_id, phones=many)


def others_on_number(patient: PatientLike, household: Sequence[Patient]) -> list[Patient]:
    return [other for other in household if other.id != patient.id]


def shared_warning(patient: PatientLike, others: Sequence[Patient]) -> str | None:
    """What staff are told when they enrol a patient on a number others already have."""
    if not others:
        return None
    names = ", ".join(f"{p.first_name} {p.last_name}".strip() + f" (#{p.id})" for p in others)
    return (
        f"this number also belongs to {names}: a reply from it is filed under the patient "
        "texted last (within the plan's reply window), otherwise staff choose"
    )


def record(session: Session, *, patient: PatientLike, others: Sequence[Patient], actor: str,
           clinic_id: int) -> None:  # fmt: skip
    """Write the household to the audit log once per patient."""
    if not others:
        return
    done = session.exec(
        select(AuditLog.id).where(AuditLog.action == ACTION, AuditLog.entity_id == patient.id)
    ).first()
    if done is not None:
        return
    actor_type = ActorType.API_KEY if actor.startswith("api_key:") else ActorType.USER
    record_audit(session, actor_type=actor_type, actor=actor, action=ACTION,
                 entity_type="patient", entity_id=patient.id, clinic_id=clinic_id,
                 detail={"shares_phone_with": [p.id for p in others]})  # fmt: skip
