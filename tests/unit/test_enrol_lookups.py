"""The bulk path's look-ups per batch follow the batch: their work does not grow with the
clinic's other enrolments or the database's other skipped messages. Work is counted in
SQLite virtual-machine steps (a progress handler), not time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from service.db.models import Enrollment, Message, MessageEvent, Patient
from service.db.queries import insert_rows
from service.domain import Channel, MessageStatus, Priority
from service.enrollment.catch_up import record_creation_events
from service.enrollment.rows import existing_enrollments, message_row, table
from service.enrollment.schedule import Planned
from tests.factories import Factory

OTHERS = 2000
# A batch's chunk of look-ups, as the bulk path sends them: without statistics, SQLite
# weighs this many index probes against walking an index on the clinic or the status.
CHUNK = 500


def steps(session: Session, lookup: Callable[[], Any]) -> int:
    """Tens of SQLite VM instructions `lookup` runs on the session's connection."""
    driver: Any = session.connection().connection.driver_connection
    count = 0

    def tick() -> int:
        nonlocal count
        count += 1
        return 0  # go on

    driver.set_progress_handler(tick, 10)
    try:
        lookup()
    finally:
        driver.set_progress_handler(None, 10)
    return count


def skipped_row(
    clinic_id: int, patient_id: int, enrollment_id: int, now: datetime
) -> dict[str, Any]:
    planned = Planned("day1", 0, Channel.SMS, None, Priority.ROUTINE, now, now,
                      now + timedelta(days=1), MessageStatus.SKIPPED, "no SMS consent")  # fmt: skip
    return message_row(planned, clinic_id=clinic_id, patient_id=patient_id,
                       enrollment_id=enrollment_id, language="en", now=now)  # fmt: skip


def add_others(session: Session, clinic_id: int, now: datetime) -> None:
    """OTHERS more patients of the clinic, each enrolled, each with a skipped message."""
    connection = session.connection()
    patients = [
        {"clinic_id": clinic_id, "first_name": f"Other{i}", "timezone": "UTC", "created_at": now}
        for i in range(OTHERS)
    ]
    insert_rows(connection, table(Patient), patients)
    others = select(Patient.id).where(col(Patient.first_name).startswith("Other"))
    enrollments = [
        {"clinic_id": clinic_id, "patient_id": pid, "plan_key": "botox", "plan_version": 1,
         "procedure_at": now, "status": "active", "created_at": now, "updated_at": now}
        for pid in session.exec(others)
    ]  # fmt: skip
    insert_rows(connection, table(Enrollment), enrollments)
    enrolled = select(Enrollment.id, Enrollment.patient_id).where(
        col(Enrollment.patient_id).in_(others)
    )
    messages = [skipped_row(clinic_id, pid, eid, now) for eid, pid in session.exec(enrolled)]
    insert_rows(connection, table(Message), messages)


def test_the_existing_enrolment_lookup_does_not_walk_the_clinics_enrolments(
    session, factory: Factory, now
):
    clinic = factory.clinic()
    patient = factory.patient(clinic)
    factory.enrol(clinic, patient, procedure_at=now + timedelta(days=1), now=now)

    def lookup() -> None:
        ids = [patient.id, *range(10**6, 10**6 + CHUNK - 1)]  # others of the batch: new
        found = existing_enrollments(session, clinic_id=clinic.id, plan_key="botox",  # type: ignore[arg-type]
                                     patient_ids=ids)  # type: ignore[arg-type]  # fmt: skip
        assert len(found) == 1

    alone = steps(session, lookup)
    add_others(session, clinic.id, now)  # type: ignore[arg-type]
    assert steps(session, lookup) < 1.2 * alone


def test_recording_born_skipped_rows_does_not_walk_the_other_skipped_messages(
    session, factory: Factory, now
):
    clinic = factory.clinic()
    patient = factory.patient(clinic)
    enrollment = factory.enrol(clinic, patient, procedure_at=now + timedelta(days=1), now=now)
    row = skipped_row(clinic.id, patient.id, enrollment.id, now)  # type: ignore[arg-type]
    insert_rows(session.connection(), table(Message), [row])

    def record() -> None:
        keys = [row["dedupe_key"], *(f"enr:0:none:{i}:sms" for i in range(CHUNK - 1))]
        record_creation_events(session, dedupe_keys=keys, now=now)

    alone = steps(session, record)
    add_others(session, clinic.id, now)  # type: ignore[arg-type]
    assert steps(session, record) < 1.2 * alone
    events = session.exec(select(MessageEvent.reason).where(MessageEvent.actor == "enrolment"))
    assert events.all().count("no SMS consent") >= 2
