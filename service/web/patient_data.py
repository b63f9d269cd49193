"""Read models for the staff pages: patient search and a patient's timeline.

Read-only queries over the tables; every change goes through the domain use cases.
Visibility (own clinic only) is decided by the caller with `Viewer.can_see`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from service.db.models import (
    Alert,
    Clinic,
    Enrollment,
    InboundMessage,
    Message,
    MessageEvent,
    Patient,
)
from service.domain import MessageKind, MessageStatus
from service.enrollment.schedule import TOO_LATE

PAGE_SIZE = 50


@dataclass(frozen=True)
class PatientRow:
    patient: Patient
    clinic_name: str
    enrollments: list[Enrollment]


def search_patients(
    session: Session, *, clinic_id: int | None, query: str, before_id: int | None
) -> tuple[list[PatientRow], int | None]:
    """Newest patients first, PAGE_SIZE at a time; returns the rows and the next cursor."""
    stmt = select(Patient).order_by(col(Patient.id).desc()).limit(PAGE_SIZE + 1)
    if clinic_id is not None:
        stmt = stmt.where(Patient.clinic_id == clinic_id)
    if before_id is not None:
        stmt = stmt.where(col(Patient.id) < before_id)
    if query.strip():
        stmt = stmt.where(_matches(query.strip()))
    patients = list(session.exec(stmt))
    more = len(patients) > PAGE_SIZE
    patients = patients[:PAGE_SIZE]
    return _with_enrollments(session, patients), (patients[-1].id if more else None)


def _matches(query: str) -> ColumnElement[bool]:
    like = f"%{query.lower()}%"
    digits = "".join(ch for ch in query if ch.isdigit())
    terms: list[ColumnElement[bool]] = [
        col(Patient.first_name).ilike(like),
        col(Patient.last_name).ilike(like),
        col(Patient.email).ilike(like),
        col(Patient.external_ref).ilike(like),
    ]
    if len(digits) >= 3:
        terms.append(col(Patient.phone).contains(digits))
    return or_(*terms)


def _with_enrollments(session: Session, patients: list[Patient]) -> list[PatientRow]:
    ids = [p.id for p in patients]
    by_patient: dict[int, list[Enrollment]] = defaultdict(list)
    names = dict(session.exec(select(Clinic.id, Clinic.name)).all())  # a handful of clinics
    if ids:
        stmt = select(Enrollment).where(col(Enrollment.patient_id).in_(ids))
        for enrollment in session.exec(stmt.order_by(col(Enrollment.id).desc())):
            by_patient[enrollment.patient_id].append(enrollment)
    return [
        PatientRow(p, names.get(p.clinic_id, "?"), by_patient.get(p.id or 0, [])) for p in patients
    ]


@dataclass
class TimelineItem:
    at: datetime
    kind: str  # "message" | "reply" | "alert"
    message: Message | None = None
    events: list[MessageEvent] = field(default_factory=list)
    reply: InboundMessage | None = None
    alert: Alert | None = None


@dataclass
class LateSteps:
    steps: set[tuple[str | None, int]] = field(default_factory=set)
    catch_up: bool = False

    @property
    def skipped(self) -> int:
        return len(self.steps)


@dataclass
class Timeline:
    patient: Patient
    clinic: Clinic
    enrollments: list[Enrollment]
    items: list[TimelineItem]

    def late_steps(self) -> dict[int, LateSteps]:
        """Per enrolment: plan sends skipped because their time had passed when planned."""
        found: dict[int, LateSteps] = {}
        for item in self.items:
            m = item.message
            if m is None or m.enrollment_id is None:
                continue
            late = found.setdefault(m.enrollment_id, LateSteps())
            if m.kind == MessageKind.CATCH_UP:
                late.catch_up = True
            elif m.status == MessageStatus.SKIPPED and (m.status_reason or "").startswith(TOO_LATE):
                late.steps.add((m.step_key, m.occurrence))
        return {eid: late for eid, late in found.items() if late.steps}

    def actors(self) -> list[str | None]:
        """Everyone who acted on this timeline, for showing their names."""
        labels: list[str | None] = [e.created_by for e in self.enrollments]
        for item in self.items:
            labels += [ev.actor for ev in item.events]
            if item.alert:
                labels += [item.alert.acknowledged_by, item.alert.resolved_by]
        return labels


def patient_timeline(session: Session, patient: Patient) -> Timeline:
    """Every message (planned or past) with its events, every reply, every alert, by time."""
    messages = list(
        session.exec(
            select(Message)
            .where(Message.patient_id == patient.id)
            .order_by(col(Message.due_at), col(Message.id))
        )
    )
    items = [
        TimelineItem(at=m.due_at, kind="message", message=m, events=evs)
        for m, evs in _with_events(session, messages)
    ]
    items += [
        TimelineItem(at=r.received_at, kind="reply", reply=r) for r in _replies(session, patient)
    ]
    items += [
        TimelineItem(at=a.created_at, kind="alert", alert=a) for a in _alerts(session, patient)
    ]
    items.sort(key=lambda item: item.at)
    enrollments = session.exec(
        select(Enrollment)
        .where(Enrollment.patient_id == patient.id)
        .order_by(col(Enrollment.id).desc())
    ).all()
    clinic = session.get(Clinic, patient.clinic_id)
    assert clinic is not None  # foreign key
    return Timeline(patient, clinic, list(enrollments), items)


def _with_events(
    session: Session, messages: list[Message]
) -> list[tuple[Message, list[MessageEvent]]]:
    events = events_for(session, [m.id for m in messages if m.id is not None])
    return [(m, events.get(m.id or 0, [])) for m in messages]


def events_for(session: Session, message_ids: list[int]) -> dict[int, list[MessageEvent]]:
    grouped: dict[int, list[MessageEvent]] = defaultdict(list)
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        stmt = (
            select(MessageEvent)
            .where(col(MessageEvent.message_id).in_(chunk))
            .order_by(col(MessageEvent.at), col(MessageEvent.id))
        )
        for event in session.exec(stmt):
            grouped[event.message_id].append(event)
    return grouped


def _replies(session: Session, patient: Patient) -> list[InboundMessage]:
    stmt = select(InboundMessage).where(InboundMessage.patient_id == patient.id)
    return list(session.exec(stmt))


def _alerts(session: Session, patient: Patient) -> list[Alert]:
    return list(session.exec(select(Alert).where(Alert.patient_id == patient.id)))
