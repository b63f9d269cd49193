"""On PostgreSQL, new quiet hours re-plan what is not sent and nothing else: unsent plan
messages leave the new window, sent and claimed ones keep their times, and a claim
racing the change either finishes first (its row is then left alone) or skips the rows
being re-planned (the row locks a reschedule takes)."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from service.api.app import create_app
from service.clinic_settings import change_settings
from service.clinics import ClinicChanges
from service.db.models import Clinic, Enrollment, Message
from service.dispatch.claim import claim_due
from service.domain import MessageKind, MessageStatus, Priority, Role
from tests.factories import Factory

pytestmark = pytest.mark.postgres
NEW_YORK = ZoneInfo("America/New_York")


def enrolled(pg_engine: Engine, now: datetime) -> tuple[Clinic, list[int], str]:
    """A clinic (quiet hours 20:00-08:00), two patients enrolled in botox for tomorrow (its
    routine steps go at 09:00 and 10:00 local), and a clinic admin's key."""
    with Session(pg_engine, expire_on_commit=False) as session:
        make = Factory(session)
        clinic = make.clinic()
        procedure = datetime(2026, 3, 3, 18, 30, tzinfo=NEW_YORK)
        ids = []
        for _ in range(2):
            patient = make.patient(clinic, sms_consent_at=now, email_consent_at=now)
            ids.append(make.enrol(clinic, patient, procedure_at=procedure, now=now).id)
        key = make.api_key(make.user(clinic, Role.CLINIC_ADMIN))
    return clinic, ids, key


def plan_rows(session: Session, enrollment_ids: list[int]) -> list[Message]:
    query = (
        select(Message)
        .where(col(Message.enrollment_id).in_(enrollment_ids))
        .where(Message.kind == MessageKind.PLAN.value)
        .order_by(col(Message.id))
    )
    return list(session.exec(query.execution_options(populate_existing=True)))


def snapshot(row: Message) -> tuple[Any, ...]:
    return (row.status, row.due_at, row.next_attempt_at, row.status_reason, row.claim_count)


NEW_END = time(10, 30)  # quiet hours 20:00-08:00 become 20:00-10:30


def in_new_quiet_hours(row: Message) -> bool:
    wall = row.next_attempt_at.astimezone(NEW_YORK).time()
    return wall >= time(20) or wall < NEW_END


def test_new_quiet_hours_move_unsent_messages_and_never_sent_or_claimed_ones(
    pg_settings, pg_engine, now
) -> None:
    clinic, ids, key = enrolled(pg_engine, now)
    with Session(pg_engine, expire_on_commit=False) as session:
        rows = plan_rows(session, ids)
        sent = next(r for r in rows if r.status == MessageStatus.SCHEDULED)
        sent.status, sent.sent_at = MessageStatus.SENT.value, now
        session.commit()
        first_due = min(r.next_attempt_at for r in rows if r.status == MessageStatus.SCHEDULED)
        claimed = claim_due(session, worker_id="w1", now=first_due, limit=1)
        session.commit()
        untouchable = {r.id: snapshot(r) for r in plan_rows(session, ids)
                       if r.id in {sent.id, claimed[0].id}}  # fmt: skip
        morning = [r.id for r in plan_rows(session, ids)
                   if r.status == MessageStatus.SCHEDULED and r.priority == Priority.ROUTINE
                   and r.next_attempt_at.astimezone(NEW_YORK).time() < NEW_END]  # fmt: skip
    assert morning, "botox has routine steps at 09:00 and 10:00"

    app = create_app(pg_settings, engine=pg_engine)
    app.state.clock = lambda: now
    with TestClient(app) as client:
        response = client.patch(f"/api/v1/clinics/{clinic.id}/settings",
                                json={"quiet_end": "10:30"},
                                headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["replanned"]["enrollments"] == 2

    with Session(pg_engine) as session:
        after = {r.id: r for r in plan_rows(session, ids)}
        assert {i: snapshot(after[i]) for i in untouchable} == untouchable
        for row in after.values():
            if row.status == MessageStatus.SCHEDULED and row.priority == Priority.ROUTINE:
                assert not in_new_quiet_hours(row), (row.step_key, row.next_attempt_at)
        for row_id in morning:  # to the new end; texts due together paced a second apart
            row = after[row_id]
            assert row.due_at.astimezone(NEW_YORK).time() == NEW_END
            assert timedelta(0) <= row.next_attempt_at - row.due_at <= timedelta(seconds=2)


def _waiting_for_a_lock(pg_engine: Engine, pid: int) -> bool:
    with pg_engine.connect() as conn:
        query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
        return conn.execute(query, {"pid": pid}).scalar() == "Lock"


def test_a_claim_in_progress_finishes_first_and_its_row_is_left_alone(pg_engine, now) -> None:
    clinic, ids, _ = enrolled(pg_engine, now)
    claimer = Session(pg_engine, expire_on_commit=False)
    first_due = min(r.next_attempt_at for r in plan_rows(claimer, ids))
    claimed = claim_due(claimer, worker_id="w1", now=first_due, limit=1)  # not committed yet
    before = snapshot(claimer.get(Message, claimed[0].id))
    done = threading.Event()
    errors: list[BaseException] = []
    pid: list[int] = []

    def change() -> None:
        try:
            with Session(pg_engine) as session:
                pid.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
                found = session.get(Clinic, clinic.id)
                change_settings(session, found, ClinicChanges(quiet_end=NEW_END),
                                actor="user:1", now=now, daily_cap=3)  # fmt: skip
                session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=change)
    worker.start()
    deadline = datetime.now().timestamp() + 30
    while not (pid and _waiting_for_a_lock(pg_engine, pid[0])):
        assert not done.is_set(), errors
        assert datetime.now().timestamp() < deadline, "the change never waited for the claim"
    claimer.commit()  # the claim ends: the change goes on
    assert done.wait(60) and not errors, errors
    worker.join()
    with Session(pg_engine) as session:
        row = session.get(Message, claimed[0].id)
        assert snapshot(row)[:3] == (MessageStatus.SENDING.value, *before[1:3])
        moved = [r for r in plan_rows(session, ids) if r.status == MessageStatus.SCHEDULED
                 and r.priority == Priority.ROUTINE]  # fmt: skip
        assert moved and not any(in_new_quiet_hours(r) for r in moved)
    claimer.close()


def test_a_claim_during_the_change_skips_the_rows_being_re_planned(pg_engine, now) -> None:
    clinic, ids, _ = enrolled(pg_engine, now)
    with Session(pg_engine) as changer, Session(pg_engine) as claimer:
        found = changer.get(Clinic, clinic.id)
        change_settings(
            changer,
            found,
            ClinicChanges(quiet_end=NEW_END),
            actor="user:1",
            now=now,
            daily_cap=3,
        )  # fmt: skip  (locks held: not committed)
        claimer.execute(text("SET lock_timeout = '5s'"))  # a claim must never wait here
        everything_due = now + timedelta(days=400)
        taken = claim_due(claimer, worker_id="w2", now=everything_due, limit=1000)
        assert [row.id for row in taken if row.enrollment_id in ids] == []
        claimer.rollback()
        changer.commit()
    with Session(pg_engine) as session:
        statuses = {r.status for r in plan_rows(session, ids)}
        assert MessageStatus.SENDING.value not in statuses
        enrollments = session.exec(select(Enrollment).where(col(Enrollment.id).in_(ids))).all()
        assert all(e.status == "active" for e in enrollments)


def test_an_enrolment_during_the_change_waits_and_is_planned_with_the_new_hours(
    pg_engine, now
) -> None:
    clinic, _, _ = enrolled(pg_engine, now)
    with Session(pg_engine, expire_on_commit=False) as session:
        patient = Factory(session).patient(clinic, sms_consent_at=now, email_consent_at=now)
    new: list[int] = []
    errors: list[BaseException] = []
    pid: list[int] = []

    def enrol() -> None:
        try:
            with Session(pg_engine, expire_on_commit=False) as session:
                pid.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
                found = session.get(Clinic, clinic.id)
                procedure = datetime(2026, 3, 3, 18, 30, tzinfo=NEW_YORK)
                new.append(Factory(session).enrol(found, patient, procedure_at=procedure,
                                                  now=now).id)  # fmt: skip
        except BaseException as exc:  # reported below
            errors.append(exc)

    with Session(pg_engine) as changer:
        change_settings(changer, changer.get(Clinic, clinic.id),
                        ClinicChanges(quiet_end=NEW_END), actor="user:1", now=now,
                        daily_cap=3)  # fmt: skip
        worker = threading.Thread(target=enrol)
        worker.start()
        deadline = datetime.now().timestamp() + 30
        while not (pid and _waiting_for_a_lock(pg_engine, pid[0])):
            assert worker.is_alive(), errors
            assert datetime.now().timestamp() < deadline, "the enrolment never waited"
        changer.commit()
    worker.join(60)
    assert new and not errors, errors
    with Session(pg_engine) as session:
        rows = [r for r in plan_rows(session, new) if r.status == MessageStatus.SCHEDULED
                and r.priority == Priority.ROUTINE]  # fmt: skip
        assert rows and not any(in_new_quiet_hours(r) for r in rows)
