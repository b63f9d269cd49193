"""The embedded default: the scheduler inside `aftercare serve` on SQLite, console adapter."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, select

from service.api.app import create_app
from service.channels.console import clear_sent, sent_messages
from service.db.engine import make_engine
from service.db.models import Message, MessageEvent, WorkerHeartbeat
from service.domain import MessageStatus
from service.worker import start_in_process
from tests.dispatch_support import ad_hoc, consenting
from tests.factories import Factory


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def status_of(engine, message_id: int) -> str:
    with Session(engine) as session:
        return session.exec(select(Message.status).where(Message.id == message_id)).one()


def test_a_message_due_in_a_moment_leaves_within_a_second_of_it(settings):
    engine = make_engine(settings)
    SQLModel.metadata.create_all(engine)
    clear_sent()
    with Session(engine, expire_on_commit=False) as session:
        clinic = Factory(session).clinic(timezone="UTC")
        patient = consenting(Factory(session), clinic)
        due = datetime.now(UTC) + timedelta(seconds=1.5)
        message = ad_hoc(session, clinic=clinic, patient=patient, due_at=due)
    runner = start_in_process(settings, engine)
    try:
        wait_until(lambda: status_of(engine, message.id) == MessageStatus.DELIVERED)
        with Session(engine) as session:
            row = session.get(Message, message.id)
            heartbeat = session.exec(select(WorkerHeartbeat)).first()
            events = session.exec(
                select(MessageEvent).where(MessageEvent.message_id == message.id)
            ).all()
    finally:
        runner.stop()
        engine.dispose()
    assert row is not None and row.sent_at is not None
    # The console's delivery receipt: sent, then delivered, each an event.
    assert row.delivered_at == row.sent_at
    assert [(e.to_status, e.actor) for e in events][-2:] == [
        ("sent", None),
        ("delivered", "provider"),
    ]
    assert timedelta(0) <= row.sent_at - due < timedelta(seconds=1)
    assert [m.message_id for m, _ in sent_messages()] == [message.id]
    assert heartbeat is not None and heartbeat.worker_id == runner.ctx.worker_id


def test_serve_runs_the_scheduler_and_stops_it_with_the_app(settings):
    settings = settings.model_copy(update={"scheduler_enabled": True})
    engine = make_engine(settings)
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        clinic = Factory(session).clinic(timezone="UTC")
        patient = consenting(Factory(session), clinic)
        message = ad_hoc(session, clinic=clinic, patient=patient, due_at=datetime.now(UTC))
    with TestClient(create_app(settings, engine=engine)):
        wait_until(lambda: status_of(engine, message.id) == MessageStatus.DELIVERED)
    engine.dispose()
