"""The operators' queries on real PostgreSQL: seek pagination through the UNION ALL path,
per-day charts (date in UTC, latency in epoch seconds) and health counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import Session

from service.db.models import InboundMessage, Message
from service.db.types import utcnow
from service.domain import Channel, MessageStatus
from service.web.chart_data import chart_data
from service.web.health_data import worker_health
from service.web.log_data import LogFilter, decode_cursor, delivery_log
from tests.factories import Factory

pytestmark = pytest.mark.postgres
STATUSES = [MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.SCHEDULED,
            MessageStatus.SKIPPED, MessageStatus.REVIEW]  # fmt: skip


@pytest.fixture
def pg(pg_engine):  # type: ignore[no-untyped-def]
    with Session(pg_engine, expire_on_commit=False) as session:
        yield session


def _load(session: Session, n: int) -> list[Message]:
    make = Factory(session)
    clinic = make.clinic()
    patient = make.patient(clinic)
    now = utcnow()
    rows = []
    for i in range(n):
        status = STATUSES[i % len(STATUSES)]
        due = now - timedelta(hours=1 + i // 4)  # ties on due_at, broken by id
        rows.append(Message(
            dedupe_key=f"pg:{i}", clinic_id=clinic.id, patient_id=patient.id,
            channel="email" if i % 3 == 0 else "sms", status=status, due_at=due,
            next_attempt_at=due, sent_at=due if status == "delivered" else None,
            delivered_at=due + timedelta(seconds=20) if status == "delivered" else None,
            error_text="unreachable handset" if status == "failed" else None, updated_at=due,
        ))  # fmt: skip
    session.add_all(rows)
    session.commit()
    return rows


def _walk(session: Session, flt: LogFilter, limit: int) -> list[int]:
    seen: list[int] = []
    while True:
        page = delivery_log(session, flt, limit=limit)
        seen += [row.message.id for row in page.rows]  # type: ignore[misc]
        if page.next_cursor is None:
            return seen
        flt = replace(flt, before=decode_cursor(page.next_cursor))


def test_seek_pages_cover_the_log_once_in_order_without_filters(pg) -> None:
    rows = _load(pg, 137)
    expected = [m.id for m in sorted(rows, key=lambda m: (m.due_at, m.id), reverse=True)]
    assert _walk(pg, LogFilter(upto=utcnow()), limit=20) == expected


def test_seek_pages_with_a_filter_cover_only_matching_rows(pg) -> None:
    rows = _load(pg, 90)
    wanted = [m for m in rows if m.channel == "email"]
    expected = [m.id for m in sorted(wanted, key=lambda m: (m.due_at, m.id), reverse=True)]
    assert _walk(pg, LogFilter(channel=Channel.EMAIL, upto=utcnow()), limit=7) == expected


def test_charts_and_health_compute_on_postgres(pg) -> None:
    rows = _load(pg, 50)
    pg.add(InboundMessage(provider_id="SMpg", channel="sms", from_address="+1", intent="concern"))
    pg.commit()
    today = utcnow().date()
    data = chart_data(pg, days=14, today=today)
    delivered = sum(1 for m in rows if m.status == "delivered")
    assert data.totals["delivered"] == delivered
    assert data.totals["failed"] == sum(1 for m in rows if m.status == "failed")
    assert dict(data.latency)["10-30 s"] == delivered
    assert data.failure_reasons[0][0] == "unreachable handset"
    assert ("concern", 1) in data.replies
    health = worker_health(pg, now=utcnow())
    assert health.review == sum(1 for m in rows if m.status == "review")
    assert health.due_now == sum(1 for m in rows if m.status == "scheduled")


def test_patient_search_folds_accents_and_reads_phones_on_postgresql(pg) -> None:
    from service.web.patient_data import search_patients

    make = Factory(pg)
    clinic, other = make.clinic(), make.clinic()
    make.patient(clinic, first_name="Lucía", last_name="Núñez", phone="+14155550142")
    make.patient(clinic, first_name="Ann", last_name="50%_off", external_ref="R-2026")
    make.patient(other, first_name="Lucia", last_name="Nunez")

    def names(query: str) -> list[str]:
        rows, _ = search_patients(pg, clinic_id=clinic.id, query=query, before_id=None)
        return [row.patient.first_name for row in rows]

    assert names("NUNEZ lucia") == ["Lucía"]
    assert names("(415) 555-0142") == ["Lucía"]
    assert names("50%_") == ["Ann"] and names("a%") == [] and names("2026") == ["Ann"]
