"""Read models for the staff pages: patient search, and message events by message
(the timeline itself is service.web.timeline_data).

Read-only queries over the tables; every change goes through the domain use cases.
Visibility (own clinic only) is decided by the caller with `Viewer.can_see`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from service.db.models import (
    Clinic,
    Enrollment,
    MessageEvent,
    Patient,
)

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
