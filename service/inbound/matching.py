"""Who a reply is from and which clinic it is for: the right clinic on a shared sender,
the right patient on a shared phone.

The clinic:
- the number (or address) the patient wrote to, when it belongs to one clinic;
- on a sender several clinics share (or the service's default sender), the clinic with
  a patient on the number; if several, the one that most recently sent a message to it;
  if that does not decide, every clinic that has the number enrolled (in a plan still
  running; failing that, every clinic that has the number) - each sees the reply: the
  patient wrote to them all;
- never a clinic that has no patient on that number (a single-clinic install still
  routes an unknown sender to its one clinic).

The patient, within the clinic: the one patient on that number; on a number several
patients share (a household), the one the most recent message on that number went to,
if it went within their plan's reply window; otherwise nobody - the reply then lists
every patient on the number (`Route.household`) until staff attribute it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from service.db.models import Clinic, Enrollment, Message, Patient, PlanVersion
from service.domain import Channel, EnrollmentStatus, MessageKind
from service.inbound.reply import InboundReply
from service.plans.model import DEFAULT_REPLY_WINDOW, PlanError
from service.plans.store import load_pinned

_IN_CARE = (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.PAUSED.value)


@dataclass(frozen=True)
class Route:
    """One clinic a reply goes to, and who in that clinic it is from."""

    clinic: Clinic
    patient: Patient | None = None  # attributed; None for an unknown or undecided sender
    enrollment: Enrollment | None = None
    household: tuple[Patient, ...] = ()  # every patient of the clinic on the number

    @property
    def shared(self) -> bool:
        """From a number several patients share, and not attributed to one of them."""
        return self.patient is None and len(self.household) > 1


def route_reply(session: Session, reply: InboundReply, *, now: datetime) -> list[Route]:
    """The clinics a reply goes to (usually one; none when no clinic may have it)."""
    written = _clinics_written_to(session, reply)
    pool = {c.id for c in written} if written else None  # None: the default sender, any clinic
    patients = _patients_for(session, reply, clinic_ids=pool)
    by_clinic: dict[int, list[Patient]] = defaultdict(list)
    for patient in patients:
        by_clinic[patient.clinic_id].append(patient)
    if len(written) == 1:
        return [_route(session, written[0], by_clinic.get(written[0].id or 0, []), reply, now)]
    if not by_clinic:
        only = None if written else _only_clinic(session)
        return [Route(only)] if only else []
    related = sorted(by_clinic)
    if len(related) > 1:
        latest = _latest_clinic(session, reply, patients)
        related = [latest] if latest is not None else _enrolled(session, by_clinic) or related
    clinics = {c.id: c for c in session.exec(select(Clinic).where(col(Clinic.id).in_(related)))}
    return [_route(session, clinics[cid], by_clinic[cid], reply, now) for cid in related]


def _route(
    session: Session, clinic: Clinic, household: list[Patient], reply: InboundReply,
    now: datetime,
) -> Route:  # fmt: skip
    if not household:
        return Route(clinic)
    patient = household[0] if len(household) == 1 else _by_context(session, household, reply, now)
    if patient is None:
        return Route(clinic, household=tuple(household))
    enrollment = latest_active_enrollment(session, patient)
    return Route(clinic, patient, enrollment, tuple(household))


def _by_context(
    session: Session, household: list[Patient], reply: InboundReply, now: datetime
) -> Patient | None:
    """The patient the latest message on this number went to, within their reply window."""
    latest = session.exec(
        _sent_to(household, reply).order_by(col(Message.sent_at).desc(), col(Message.id).desc())
    ).first()
    if latest is None or latest.sent_at is None:
        return None
    patient = next(p for p in household if p.id == latest.patient_id)
    window = reply_window(session, latest_active_enrollment(session, patient))
    return patient if now - latest.sent_at <= window else None


def _sent_to(patients: list[Patient], reply: InboundReply) -> Any:
    """Messages that left for these patients on the channel the reply came on."""
    return select(Message).where(
        col(Message.patient_id).in_([p.id for p in patients]),
        Message.channel == Channel(reply.channel).value,
        col(Message.sent_at).is_not(None),
        Message.kind != MessageKind.PAGE,
    )


def reply_window(session: Session, enrollment: Enrollment | None) -> timedelta:
    """The patient's plan's reply window (the default when there is no plan to ask)."""
    if enrollment is None:
        return DEFAULT_REPLY_WINDOW
    try:
        return load_pinned(session, enrollment.plan_key, enrollment.plan_version).reply_window
    except PlanError:
        return DEFAULT_REPLY_WINDOW


def _latest_clinic(session: Session, reply: InboundReply, patients: list[Patient]) -> int | None:
    """The clinic that most recently sent a message to this number, if any did."""
    return session.exec(
        select(Message.clinic_id)
        .where(
            or_(
                col(Message.patient_id).in_([p.id for p in patients]),
                col(Message.to_address) == reply.from_address,
            ),
            Message.channel == Channel(reply.channel).value,
            col(Message.sent_at).is_not(None),
            Message.kind != MessageKind.PAGE,
            col(Message.clinic_id).in_({p.clinic_id for p in patients}),
        )
        .order_by(col(Message.sent_at).desc(), col(Message.id).desc())
    ).first()


def _enrolled(session: Session, by_clinic: dict[int, list[Patient]]) -> list[int]:
    """The clinics where someone on the number is enrolled (in an active or paused plan)."""
    ids = [p.id for people in by_clinic.values() for p in people]
    rows = session.exec(
        select(Enrollment.clinic_id)
        .where(col(Enrollment.patient_id).in_(ids), col(Enrollment.status).in_(_IN_CARE))
        .distinct()
    )
    return sorted(rows)


def _only_clinic(session: Session) -> Clinic | None:
    """A single-clinic install routes an unknown sender to its one clinic."""
    clinics = session.exec(select(Clinic).limit(2)).all()
    return clinics[0] if len(clinics) == 1 else None


def _clinics_written_to(session: Session, reply: InboundReply) -> list[Clinic]:
    if not reply.to_address:
        return []
    if reply.channel == Channel.SMS:
        where = col(Clinic.sms_from) == reply.to_address
    else:
        where = func.lower(Clinic.email_from) == reply.to_address.lower()
    return list(session.exec(select(Clinic).where(where).order_by(col(Clinic.id))))


def _patients_for(
    session: Session, reply: InboundReply, *, clinic_ids: set[int | None] | None
) -> list[Patient]:
    if reply.channel == Channel.SMS:
        query = select(Patient).where(Patient.phone == reply.from_address)
    else:
        query = select(Patient).where(func.lower(Patient.email) == reply.from_address.lower())
    if clinic_ids is not None:
        query = query.where(col(Patient.clinic_id).in_(clinic_ids))
    return list(session.exec(query.order_by(col(Patient.id))))


def latest_active_enrollment(session: Session, patient: Patient) -> Enrollment | None:
    return session.exec(
        select(Enrollment)
        .where(
            Enrollment.patient_id == patient.id,
            col(Enrollment.status).in_(_IN_CARE),
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
