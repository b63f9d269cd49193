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
    ranked = sorted(
        ((latest_active_enrollment(session, p), p) for p in candidates),
        key=lambda pair: (pair[0] is not None, pair[0].created_at if pair[0] else None, pair[1].id),
        reverse=True,
    )
    if not ranked:
        return Sender(clinic=clinic or _only_clinic(session), patient=None, enrollment=None)
    # With no clinic written to, the patient in the most recent active care wins: a reply
    # must always reach someone who can triage it, never sit unrouted.
    enrollment, patient = ranked[0]
    clinic = clinic or session.get(Clinic, patient.clinic_id)
    return Sender(clinic=clinic, patient=patient, enrollment=enrollment)


def _only_clinic(session: Session) -> Clinic | None:
    """A single-clinic install routes an unknown sender to its one clinic."""
    clinics = session.exec(select(Clinic).limit(2)).all()
    return clinics[0] if len(clinics) == 1 else None


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
