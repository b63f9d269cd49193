"""The dispatcher's claim on the real databases: exactly `limit` rows, oldest first, and
on PostgreSQL two concurrent claims never take the same row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from service.config import load_settings
from service.db import migrate
from service.db.engine import make_engine
from service.db.models import Message, MessageEvent
from service.dispatch.claim import claim_due
from service.domain import MessageStatus
from service.outbox import Move, TransitionRefused, transition_many
from tests.dispatch_support import seed_plan_messages, status_counts
from tests.factories import Factory

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def claim_engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/claim.db"
        migrate.upgrade(load_settings(database_url=url))
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(load_settings(database_url=url))
    with Session(engine) as session:
        clinic = Factory(session).clinic(timezone="UTC")
        for minutes in range(20):  # one row due per minute, the oldest first
            seed_plan_messages(
                session,
                clinic=clinic,
                count=1,
                due_at=NOW - timedelta(minutes=20 - minutes),
                phone_base=14_155_000_000 + minutes,
            )
        session.commit()
    yield engine
    engine.dispose()


def test_a_claim_takes_exactly_its_limit_oldest_first(claim_engine):
    with Session(claim_engine) as session:
        due = session.exec(select(Message.id).order_by(Message.next_attempt_at)).all()
        claimed = claim_due(session, worker_id="w1", now=NOW, limit=5)
        session.commit()
        assert [row.id for row in claimed] == due[:5]
        # A claim is not an attempt: the fence counts calls (`attempts`).
        assert all((row.claim_count, row.attempts) == (1, 0) for row in claimed)
        assert status_counts(session) == {"sending": 5, "scheduled": 15}
        events = select(func.count()).where(MessageEvent.to_status == "sending")
        assert session.exec(events).one() == 5


def test_an_urgent_row_is_claimed_before_any_backlog(claim_engine):
    with Session(claim_engine) as session:
        clinic = session.exec(select(Message.clinic_id)).first()
        page = Message(dedupe_key="page", clinic_id=clinic, kind="page", channel="sms",
                       priority="urgent", to_address="+14155550199", body="Urgent reply",
                       due_at=NOW, next_attempt_at=NOW)  # fmt: skip
        session.add(page)
        session.commit()
        claimed = claim_due(session, worker_id="w1", now=NOW, limit=3)
        session.commit()
        oldest = session.exec(select(Message.id).order_by(Message.next_attempt_at)).all()[:2]
        assert [row.id for row in claimed] == [page.id, *oldest]
        assert claim_due(session, worker_id="w1", now=NOW, limit=3, urgent_only=True) == []


@pytest.mark.postgres
def test_concurrent_claims_on_postgresql_never_share_a_row(pg_url):
    engine = make_engine(load_settings(database_url=pg_url))
    try:
        with Session(engine) as session:
            clinic = Factory(session).clinic(timezone="UTC")
            seed_plan_messages(session, clinic=clinic, count=12, due_at=NOW - timedelta(minutes=1))
            session.commit()
        with Session(engine) as first, Session(engine) as second:
            mine = claim_due(first, worker_id="w1", now=NOW, limit=5)  # still uncommitted
            theirs = claim_due(second, worker_id="w2", now=NOW, limit=5)  # skips locked rows
            first.commit()
            second.commit()
        assert len(mine) == len(theirs) == 5
        assert not {row.id for row in mine} & {row.id for row in theirs}
        with Session(engine) as session:
            assert status_counts(session) == {"sending": 10, "scheduled": 2}
    finally:
        engine.dispose()


def test_a_batch_moves_with_its_own_values_and_refuses_a_stale_row(claim_engine):
    with Session(claim_engine) as session:
        claimed = claim_due(session, worker_id="w1", now=NOW, limit=3)
        session.commit()
        ids = [row.id for row in claimed]
        stale = [Move(ids[0], "sending"), Move(ids[1], "scheduled")]  # ids[1] is `sending`
        with pytest.raises(TransitionRefused):
            transition_many(session, stale, MessageStatus.SENT, reason="x", now=NOW)
        session.rollback()
        moves = [Move(i, "sending", values={"provider_id": f"SM{i}"}) for i in ids]
        transition_many(session, moves, MessageStatus.SENT, reason="accepted", now=NOW)
        session.commit()
        rows = session.exec(select(Message.id, Message.status, Message.provider_id)).all()
        sent = {row.id: (row.status, row.provider_id) for row in rows if row.id in ids}
        assert sent == {i: ("sent", f"SM{i}") for i in ids}
        events = select(func.count()).where(MessageEvent.to_status == "sent")
        assert session.exec(events).one() == 3


def test_a_group_fence_starts_only_the_calls_still_ours_fresh_and_not_opted_out(claim_engine):
    from service.db.models import Patient
    from service.dispatch.fence import Fence, start_calls

    ttl = timedelta(seconds=30)
    with Session(claim_engine) as session:
        rows = claim_due(session, worker_id="w1", now=NOW, limit=6)
        session.commit()
        ours, stale, stopped, confirmation, _, old = rows
        patient = session.get(Patient, stopped.patient_id)
        patient.sms_opted_out_at = NOW
        second = session.get(Patient, confirmation.patient_id)
        second.sms_opted_out_at = NOW
        session.add_all([patient, second])
        session.commit()
    fences = [
        Fence(ours.id, ours.claim_count, "sms_opted_out_at"),
        Fence(stale.id, stale.claim_count + 1, "sms_opted_out_at"),  # a later claim's
        Fence(stopped.id, stopped.claim_count, "sms_opted_out_at"),  # STOP since the claim
        Fence(confirmation.id, confirmation.claim_count, None),  # the STOP confirmation
        Fence(99_999, 1, None),  # no such row
    ]
    fencing = claim_engine  # as the dispatcher's fencer: autocommit on PostgreSQL
    if claim_engine.dialect.name == "postgresql":
        fencing = claim_engine.execution_options(isolation_level="AUTOCOMMIT")
    with fencing.connect() as connection:
        started = start_calls(connection, fences, now=NOW + timedelta(seconds=1), ttl=ttl)
        too_late = start_calls(connection, [Fence(old.id, old.claim_count, None)],
                               now=NOW + ttl + timedelta(seconds=1), ttl=ttl)  # fmt: skip
    assert started == {ours.id, confirmation.id} and too_late == set()
    with Session(claim_engine) as session:
        marked = {m.id: (m.attempts, m.call_started_at) for m in session.exec(select(Message))}
    assert marked[ours.id] == (1, NOW + timedelta(seconds=1))
    assert marked[stale.id] == marked[stopped.id] == marked[old.id] == (0, None)
