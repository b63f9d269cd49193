"""Enrolment on real PostgreSQL: the bulk path, idempotency and racing duplicates."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from service.api.app import create_app
from service.config import DEFAULT_TEMPLATES_DIR
from service.csv_import import import_rows
from service.db.models import Enrollment, Message, Patient
from service.domain import MessageStatus, Role
from service.plans.catalog import load_catalog
from tests.factories import Factory

pytestmark = [pytest.mark.postgres, pytest.mark.parallel]


def csv_rows(now, count):
    return [
        (
            i + 2,
            {
                "first_name": f"P{i}",
                "phone": f"+1415{3000000 + i:07d}",
                "plan": "botox",
                "procedure_at": (now + timedelta(days=1 + i % 3)).isoformat(),
                "timezone": "America/Chicago",
            },
        )
        for i in range(count)
    ]


def test_the_bulk_path_on_postgres_is_idempotent(pg_engine, now):
    catalog = load_catalog(DEFAULT_TEMPLATES_DIR)
    with Session(pg_engine, expire_on_commit=False) as session:
        clinic = Factory(session).clinic()
        report = import_rows(
            session, clinic=clinic, catalog=catalog, rows=csv_rows(now, 300), now=now, actor="test"
        )
        session.commit()
        again = import_rows(
            session, clinic=clinic, catalog=catalog, rows=csv_rows(now, 300), now=now, actor="test"
        )
        session.commit()
        messages = session.exec(select(func.count()).select_from(Message)).one()
        patients = session.exec(select(func.count()).select_from(Patient)).one()
        dupes = session.exec(
            select(Message.dedupe_key).group_by(Message.dedupe_key).having(func.count() > 1)
        ).all()
    assert (report.enrolled, again.enrolled, again.existing) == (300, 0, 300)
    assert messages == report.messages and patients == 300 and not dupes


def test_paced_sms_rows_share_the_due_time_but_not_the_attempt_time(pg_engine, now):
    catalog = load_catalog(DEFAULT_TEMPLATES_DIR)
    with Session(pg_engine, expire_on_commit=False) as session:
        clinic = Factory(session).clinic()
        rows = [
            (2 + i, {**row, "procedure_at": (now + timedelta(days=1)).isoformat()})
            for i, (_, row) in enumerate(csv_rows(now, 20))
        ]
        import_rows(session, clinic=clinic, catalog=catalog, rows=rows, now=now, actor="test")
        session.commit()
        query = (
            select(Message.due_at, func.count(), func.count(func.distinct(Message.next_attempt_at)))
            .where(Message.channel == "sms", Message.status == MessageStatus.SCHEDULED)
            .group_by(Message.due_at)
        )
        groups = session.exec(query).all()
    assert groups and all(total == distinct for _, total, distinct in groups)
    assert any(total == 20 for _, total, _ in groups)


def test_racing_identical_enrolments_give_one_201_and_one_200(pg_settings, pg_engine, now):
    with Session(pg_engine, expire_on_commit=False) as session:
        factory = Factory(session)
        clinic = factory.clinic()
        key = factory.api_key(factory.user(clinic, Role.STAFF))
    app = create_app(pg_settings, engine=pg_engine)
    app.state.clock = lambda: now
    body = {
        "patient": {"first_name": "Ana", "phone": "4155550142"},
        "plan": "botox",
        "procedure_at": "2026-03-03T10:00:00-05:00",
    }
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client, ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(client.post, "/api/v1/enrollments", json=body, headers=headers)
            for _ in range(2)
        ]
        codes = sorted(f.result().status_code for f in futures)
    with Session(pg_engine) as session:
        enrollments = session.exec(select(func.count()).select_from(Enrollment)).one()
    assert enrollments == 1
    assert codes == [200, 201]


def test_an_import_keeps_the_planners_statistics_of_what_it_added(pg_engine, now, monkeypatch):
    from sqlalchemy import text

    from service import csv_import
    from service.db import statistics

    monkeypatch.setattr(csv_import, "BATCH", 100)
    monkeypatch.setattr(statistics, "_LEAST", 100)
    catalog = load_catalog(DEFAULT_TEMPLATES_DIR)
    with Session(pg_engine, expire_on_commit=False) as session:
        clinic = Factory(session).clinic()
        import_rows(session, clinic=clinic, catalog=catalog, rows=csv_rows(now, 450), now=now,
                    actor="test")  # fmt: skip
        # Inside the import's own transaction: analyzed at 100, then as it doubled.
        known = session.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'patients'")
        ).scalar_one()
        session.commit()
    assert 400 <= known <= 450


def test_an_imports_analyze_never_waits_for_another_transactions(pg_engine):
    from sqlalchemy import text

    from service.db.statistics import GrowingTables

    with pg_engine.connect() as other:
        other.execute(text("ANALYZE patients"))  # holds the lock until it ends
        with Session(pg_engine) as session:
            session.execute(text("SET LOCAL lock_timeout = '2s'"))
            GrowingTables(session, ("patients",)).grew(patients=5000)  # skipped, not waited
            session.rollback()
        other.rollback()


def test_insert_rows_copies_what_a_core_executemany_inserts(pg_engine):
    from sqlalchemy import delete, insert, text

    from service.db.queries import insert_rows
    from service.enrollment.rows import table
    from tests.unit.test_insert_rows import message_rows

    def stored(session: Session) -> list[dict[str, object]]:
        # JSON null and SQL NULL both read as None: told apart by `sql_null`.
        query = "SELECT *, context IS NULL AS sql_null FROM messages ORDER BY id"
        result = session.execute(text(query))
        return [{k: v for k, v in row._mapping.items() if k != "id"} for row in result]

    with Session(pg_engine) as session:
        factory = Factory(session)
        clinic = factory.clinic()
        rows = message_rows(clinic.id, factory.patient(clinic).id)  # type: ignore[arg-type]
        session.execute(insert(table(Message)), rows)
        expected = stored(session)
        session.execute(delete(table(Message)))

        insert_rows(session.connection(), table(Message), rows)

        assert stored(session) == expected
