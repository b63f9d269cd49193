"""Who sent a reply: the clinic (by the number or address written to) and the patient."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from service.db.models import Clinic, Enrollment, Patient, PlanVersion
from service.domain import Channel, EnrollmentStatus
from service.inbound.reply import InboundReply


@dataclass(frozen=True)
class Sender:
    clinic: Clinic | None
    patient: Patient | None
    enrollment: Enrollment | None


def match_sender(session: Session, reply: InboundReply) -> Sender:
    """Match the patient within the clinic written to; else the one patient with that
    number/address across clinics (a shared sender pool hides which clinic it was)."""
    clinic = _clinic_for(session, reply)
    candidates = _patients_for(session, reply, clinic)
    if clinic is None:
        clinic_ids = {patient.clinic_id for patient in candidates}
        if len(clinic_ids) != 1:
            return Sender(clinic=None, patient=None, enrollment=None)
        clinic = session.get(Clinic, clinic_ids.pop())
    ranked = sorted(
        ((latest_active_enrollment(session, p), p) for p in candidates),
        key=lambda pair: (pair[0] is not None, pair[0].created_at if pair[0] else None, pair[1].id),
        reverse=True,
    )
    if not ranked:
        return Sender(clinic=clinic, patient=None, enrollment=None)
    enrollment, patient = ranked[0]
    return Sender(clinic=clinic, patient=patient, enrollment=enrollment)


def _clinic_for(session: Session, reply: InboundReply) -> Clinic | None:
    if not reply.to_address:
        return None
    if reply.channel == Channel.SMS:
        where = col(Clinic.sms_from) == reply.to_address
    else:
        where = func.lower(Clinic.email_from) == reply.to_address.lower()
    return session.exec(select(Clinic).where(where)).first()


def _patients_for(session: Session, reply: InboundReply, clinic: Clinic | None) -> list[Patient]:
    if reply.channel == Channel.SMS:
        query = select(Patient).where(Patient.phone == reply.from_address)
    else:
        query = select(Patient).where(func.lower(Patient.email) == reply.from_address.lower())
    if clinic is not None:
        query = query.where(Patient.clinic_id == clinic.id)
    return list(session.exec(query.order_by(col(Patient.id))))


def latest_active_enrollment(session: Session, patient: Patient) -> Enrollment | None:
    return session.exec(
        select(Enrollment)
        .where(
            Enrollment.patient_id == patient.id,
            col(Enrollment.status).in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED]),
        )
        .order_by(col(Enrollment.procedure_at).desc(), col(Enrollment.id).desc())
    ).first()


def triage_hints(
    session: Session, enrollment: Enrollment | None, *, now: datetime
) -> tuple[str | None, int | None]:
    """(procedure, days since the procedure) for day-dependent triage; None when unknown."""
    if enrollment is None:
        return None, None
    version = session.exec(
        select(PlanVersion).where(
            PlanVersion.key == enrollment.plan_key, PlanVersion.version == enrollment.plan_version
        )
    ).first()
    procedure = enrollment.plan_key
    if version is not None and isinstance(version.definition.get("procedure"), str):
        procedure = version.definition["procedure"]
    days = (now - enrollment.procedure_at).days
    return procedure, days if days >= 0 else None
