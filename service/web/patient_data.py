"""Read models for the staff pages: patient search, and message events by message
(the timeline itself is service.web.timeline_data).

Read-only queries over the tables; every change goes through the domain use cases.
Visibility (own clinic only) is decided by the caller with `Viewer.can_see`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import phonenumbers
from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from service.alerts import UNRESOLVED
from service.db.models import (
    Alert,
    Clinic,
    Enrollment,
    MessageEvent,
    Patient,
)
from service.reach import Reach, reach_of
from service.words import fold

PAGE_SIZE = 50


@dataclass(frozen=True)
class PatientRow:
    patient: Patient
    clinic_name: str
    enrollments: list[Enrollment]
    reach: Reach
    open_alerts: list[Alert] = field(default_factory=list)


def search_patients(
    session: Session, *, clinic_id: int | None, query: str, before_id: int | None,
    region: str = "US",
) -> tuple[list[PatientRow], int | None]:  # fmt: skip
    """Newest patients first, PAGE_SIZE at a time; returns the rows and the next cursor.
    `clinic_id` None is every clinic (operators' and admins' view)."""
    stmt = select(Patient).order_by(col(Patient.id).desc()).limit(PAGE_SIZE + 1)
    if clinic_id is not None:
        stmt = stmt.where(Patient.clinic_id == clinic_id)
    if before_id is not None:
        stmt = stmt.where(col(Patient.id) < before_id)
    if query.strip():
        stmt = stmt.where(matches(query, region=region))
    patients = list(session.exec(stmt))
    more = len(patients) > PAGE_SIZE
    patients = patients[:PAGE_SIZE]
    return _rows(session, patients), (patients[-1].id if more else None)


_PHONE_LIKE = re.compile(r"^[\d\s()+.\-/]+$")


def matches(query: str, *, region: str) -> ColumnElement[bool]:
    """Every word of the query in the folded name, email or record id ("nunez lucia"
    finds "Lucía Núñez"); a query that looks like a phone number, in any format, finds
    the number ("(415) 555-0142", "+1 415 555 0142", "0044 7911 123456", "07911 123456")."""
    query = query.strip()
    words = fold(query).split() or [query]
    by_words = and_(*[_word(word) for word in words])
    numbers = phone_fragments(query, region=region) if _PHONE_LIKE.match(query) else []
    if not numbers:
        return by_words
    return or_(by_words, *[col(Patient.phone).contains(n, autoescape=True) for n in numbers])


def _word(word: str) -> ColumnElement[bool]:
    return or_(
        col(Patient.search_name).contains(word, autoescape=True),
        func.lower(col(Patient.email)).contains(word, autoescape=True),
        func.lower(col(Patient.external_ref)).contains(word, autoescape=True),
    )


def phone_fragments(query: str, *, region: str) -> list[str]:
    """Digit strings a stored E.164 number must contain to match what was typed: the
    digits, without an international (00) or trunk (0) prefix, and the number parsed
    in the clinic's region."""
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) < 3:
        return []
    found = {digits.removeprefix("00") if digits.startswith("00") else digits}
    if digits.startswith("0") and not digits.startswith("00"):
        found.add(digits[1:])  # a national number typed with its trunk prefix
    try:
        parsed = phonenumbers.parse(query, region)
        found.add(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:])
    except phonenumbers.NumberParseException:
        pass
    return sorted(f for f in found if len(f) >= 3)


def _rows(session: Session, patients: list[Patient]) -> list[PatientRow]:
    ids = [p.id for p in patients if p.id is not None]
    by_patient: dict[int, list[Enrollment]] = defaultdict(list)
    alerts: dict[int, list[Alert]] = defaultdict(list)
    names = dict(session.exec(select(Clinic.id, Clinic.name)).all())  # a handful of clinics
    if ids:
        stmt = select(Enrollment).where(col(Enrollment.patient_id).in_(ids))
        for enrollment in session.exec(stmt.order_by(col(Enrollment.id).desc())):
            by_patient[enrollment.patient_id].append(enrollment)
        unresolved = [s.value for s in UNRESOLVED]
        stmt_alerts = select(Alert).where(
            col(Alert.patient_id).in_(ids), col(Alert.status).in_(unresolved)
        )
        for alert in session.exec(stmt_alerts.order_by(col(Alert.created_at))):
            alerts[alert.patient_id or 0].append(alert)
    return [
        PatientRow(p, names.get(p.clinic_id, "?"), by_patient.get(p.id or 0, []), reach_of(p),
                   alerts.get(p.id or 0, []))
        for p in patients
    ]  # fmt: skip


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
