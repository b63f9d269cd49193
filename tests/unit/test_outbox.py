"""A message only ever moves forward, and every move is an event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from service.db.models import MessageEvent
from service.domain import MessageKind, MessageStatus, Priority
from service.outbox import TransitionRefused, can_transition, queue_message, transition


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("scheduled", "sending", True),
        ("sending", "sent", True),
        ("sending", "scheduled", True),  # a retry releases the claim
        ("sent", "delivered", True),
        ("sent", "undelivered", True),
        ("undelivered", "delivered", True),  # a late, better receipt wins
        ("delivered", "sent", False),  # a late "sent" never overwrites "delivered"
        ("delivered", "undelivered", False),
        ("sent", "sending", False),
        ("cancelled", "scheduled", False),
        ("skipped", "sending", False),
        ("failed", "sent", False),
        ("review", "scheduled", True),
        ("review", "sent", True),
    ],
)
def test_transition_table(current, target, allowed):
    assert can_transition(current, target) is allowed


def test_queueing_and_moving_a_message_records_each_step(session, factory, now):
    clinic = factory.clinic()
    message = queue_message(
        session,
        clinic_id=clinic.id,
        channel="sms",
        body="Thanks, we got your message.",
        kind=MessageKind.AUTO_REPLY,
        priority=Priority.URGENT,
        due_at=now,
        dedupe_key="test:1",
        to_address="+14155550100",
    )
    transition(session, message, MessageStatus.SENDING, reason="claimed", now=now)
    transition(
        session, message, MessageStatus.SENT, reason="accepted", now=now + timedelta(seconds=1)
    )
    session.commit()

    events = session.exec(select(MessageEvent).order_by(MessageEvent.id)).all()
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, "scheduled"),
        ("scheduled", "sending"),
        ("sending", "sent"),
    ]
    assert message.status == "sent"


def test_a_refused_transition_changes_nothing(session, factory, now):
    clinic = factory.clinic()
    message = queue_message(
        session,
        clinic_id=clinic.id,
        channel="sms",
        body="x",
        kind=MessageKind.AUTO_REPLY,
        priority=Priority.ROUTINE,
        due_at=now,
        dedupe_key="test:2",
        to_address="+14155550100",
    )
    transition(session, message, MessageStatus.CANCELLED, reason="opted out", now=now)
    with pytest.raises(TransitionRefused):
        transition(session, message, MessageStatus.SENDING, reason="claimed", now=now)
    assert message.status == "cancelled"
