"""STOP through the real dispatcher: pending plan texts never leave, and exactly one
confirmation does (the single message carriers allow after an opt-out)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from sqlmodel import Session, SQLModel, select

from service import accounts
from service.composer import Composer
from service.db.engine import make_engine
from service.db.models import Message
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.domain import Channel, MessageKind, MessageStatus, Priority
from service.inbound.handle import handle_reply
from service.inbound.reply import InboundReply
from service.outbox import queue_message
from service.rendering import Renderer
from tests.factories import Factory


@pytest.fixture
def engine_(settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def stop(settings, engine, priority: Priority = Priority.ROUTINE) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        factory = Factory(session)
        # No quiet hours: what these tests check must not depend on the time of day.
        clinic = factory.clinic(sms_from="+15005550006", quiet_start=time(0), quiet_end=time(0))
        clinic.night_start = clinic.night_end = time(0)
        accounts.add_oncall(session, clinic=clinic, name="Dr A", phone=None, email="a@x.test")
        patient = factory.patient(clinic, phone="+14155550123", sms_consent_at=now,
                                  email_consent_at=now)  # fmt: skip
        queue_message(session, clinic_id=clinic.id, patient_id=patient.id, channel=Channel.SMS,  # type: ignore[arg-type]
                      body="day 2 tip", kind=MessageKind.PLAN, priority=priority,
                      due_at=now, dedupe_key="plan:1")  # fmt: skip
        reply = InboundReply(provider_id="SM" + "9" * 32, channel=Channel.SMS,
                             from_address="+14155550123", to_address="+15005550006",
                             body="STOP", text="STOP")  # fmt: skip
        composer = Composer(renderer=Renderer(settings.templates_dir), base_url="https://x.test")
        handle_reply(session, reply=reply, composer=composer, now=now)
        session.commit()


def dispatch(settings, engine) -> None:  # type: ignore[no-untyped-def]
    dispatcher = Dispatcher(DispatchContext(settings=settings, engine=engine, worker_id="t"))
    try:
        for _ in range(3):
            dispatcher.tick(horizon=0.1)
            dispatcher.drain(10)
    finally:
        dispatcher.stop(5)


def statuses(engine, kind: MessageKind) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return [m.status for m in session.exec(select(Message).where(Message.kind == kind))]


def test_pending_plan_texts_are_cancelled_by_stop(settings, engine_) -> None:  # type: ignore[no-untyped-def]
    stop(settings, engine_)
    dispatch(settings, engine_)
    assert statuses(engine_, MessageKind.PLAN) == [MessageStatus.CANCELLED]
    # The clinic is told (console adapter: delivered at once, its delivery receipt).
    assert statuses(engine_, MessageKind.PAGE) == [MessageStatus.DELIVERED]


def test_the_stop_confirmation_is_the_one_text_that_still_leaves(settings, engine_) -> None:  # type: ignore[no-untyped-def]
    stop(settings, engine_)
    dispatch(settings, engine_)
    assert statuses(engine_, MessageKind.AUTO_REPLY) == [MessageStatus.DELIVERED]


def test_a_safety_text_pending_at_stop_still_reaches_the_patient_by_email(
    settings, engine_
) -> None:  # type: ignore[no-untyped-def]
    stop(settings, engine_, priority=Priority.SAFETY)
    dispatch(settings, engine_)
    with Session(engine_) as session:
        plan = session.exec(select(Message).where(Message.kind == MessageKind.PLAN)).all()
        copies = session.exec(select(Message).where(Message.kind == MessageKind.FALLBACK)).all()
    assert [(m.channel, m.status) for m in plan] == [("sms", MessageStatus.CANCELLED)]
    [copy] = copies
    assert (copy.channel, copy.status) == ("email", MessageStatus.DELIVERED)
    assert (copy.body or "").startswith("day 2 tip") and "/unsubscribe/" in (copy.body or "")
