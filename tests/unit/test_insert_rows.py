"""`db.queries.insert_rows` on SQLite: the driver's executemany writes exactly what a Core
executemany of the same rows writes (bind processing, defaults filled in)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, insert
from sqlmodel import Session

from service.db.models import AuditLog, Message
from service.db.queries import insert_rows
from service.domain import MessageKind, MessageStatus, Priority
from service.enrollment.rows import table
from tests.factories import Factory

NY = ZoneInfo("America/New_York")


def message_rows(clinic_id: int, patient_id: int) -> list[dict[str, Any]]:
    """Values as the bulk path gives them, and some it does not: instants outside UTC,
    enum members, one dict and one instant shared by several rows, JSON null."""
    at = datetime(2026, 3, 2, 10, 0, tzinfo=NY)
    shared = {"night_window": "21:00-08:00"}
    contexts = [shared, None, {"other": 1}]
    return [
        {
            "dedupe_key": f"enr:1:step:{i}:sms",
            "clinic_id": clinic_id,
            "patient_id": patient_id,
            "enrollment_id": None,
            "kind": MessageKind.PLAN if i % 2 else MessageKind.PLAN.value,
            "step_key": "step",
            "occurrence": i,
            "channel": "sms",
            "fallback_channel": "email" if i % 2 else None,
            "priority": Priority.SAFETY.value,
            "language": "es",
            "due_at": at + timedelta(minutes=i),
            "next_attempt_at": at,
            "valid_until": None if i % 2 else at + timedelta(days=1, microseconds=7),
            "status": MessageStatus.SCHEDULED,
            "status_reason": None,
            "context": contexts[i % 3],
            "attempts": 0,
            "created_at": at,
            "updated_at": at,
        }
        for i in range(7)
    ]


def stored(session: Session) -> list[dict[str, Any]]:
    """Every column as SQLite holds it (no result processing), without the id."""
    result = session.connection().exec_driver_sql("SELECT * FROM messages ORDER BY id")
    return [{k: v for k, v in row._mapping.items() if k != "id"} for row in result]


def test_it_writes_what_a_core_executemany_writes(session, factory: Factory):
    clinic = factory.clinic()
    patient = factory.patient(clinic)
    rows = message_rows(clinic.id, patient.id)  # type: ignore[arg-type]
    session.execute(insert(table(Message)), rows)
    expected = stored(session)
    session.execute(delete(table(Message)))

    insert_rows(session.connection(), table(Message), rows)

    assert stored(session) == expected
    assert [row["claim_count"] for row in expected] == [0] * 7  # the column's default
    assert expected[0]["due_at"] == "2026-03-02 15:00:00.000000"  # UTC text


def test_a_naive_datetime_is_refused(session, factory: Factory):
    clinic = factory.clinic()
    patient = factory.patient(clinic)
    rows = message_rows(clinic.id, patient.id)  # type: ignore[arg-type]
    rows[3]["due_at"] = datetime(2026, 3, 2, 10, 0)

    with pytest.raises(ValueError, match="naive datetime"):
        insert_rows(session.connection(), table(Message), rows)


def test_a_column_left_to_a_callable_default_still_gets_it(session, factory: Factory):
    clinic = factory.clinic()
    row = {"clinic_id": clinic.id, "actor_type": "user", "action": "x", "entity_type": "y"}

    insert_rows(session.connection(), table(AuditLog), [row, dict(row)])

    query = "SELECT at FROM audit_log WHERE action = 'x'"
    stamps = session.connection().exec_driver_sql(query).scalars().all()
    assert len(stamps) == 2 and all(stamps)
