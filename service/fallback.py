"""The same message again by email, when SMS cannot carry it.

Used when a send fails for good, when the carrier reports a text undelivered after
accepting it, and when SMS is lost for a patient (STOP, a landline or a dead number)
while safety messages are still to come. A plan step is queued without a body, so the
dispatcher renders the step's own email (or its SMS words inside an email when the step
has none) from the pinned plan; any other message keeps its words under a subject that
names the clinic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from service.db.models import Clinic, Message, Patient
from service.domain import Channel, MessageKind, Priority
from service.outbox import queue_message

_STEP_KINDS = frozenset({MessageKind.PLAN, MessageKind.FALLBACK})
SAFETY_NET_REPLY = "urgent_safety_net"  # inbound.replies.SAFETY_NET, the reply's marker


def email_reachable(patient: Any) -> bool:
    """An address, consent to email, and no unsubscribe."""
    return bool(
        patient.email
        and patient.email_consent_at is not None
        and patient.email_opted_out_at is None
    )


def is_safety(message: Message) -> bool:
    """Messages a patient must not silently miss: red-flag reminders and safety advice,
    the catch-up (it carries the red flags), and the reply to an urgent report."""
    context = message.context or {}
    return (
        message.priority == Priority.SAFETY
        or message.kind == MessageKind.CATCH_UP
        or context.get("compliance") == SAFETY_NET_REPLY
    )


def is_step(message: Message) -> bool:
    return message.kind in _STEP_KINDS and bool(message.step_key) and bool(message.enrollment_id)


def queue_email_copy(
    session: Session,
    message: Message,
    patient: Patient,
    *,
    now: datetime,
    dedupe_key: str,
    reason: str,
) -> Message | None:
    """Queue `message` by email for `patient` (at its own time if that is still ahead);
    the existing copy when one was queued before; None when email cannot reach them."""
    existing = session.exec(select(Message).where(Message.dedupe_key == dedupe_key)).first()
    if existing is not None:
        return existing
    step = is_step(message)
    if not email_reachable(patient) or (not step and message.body is None):
        return None
    due = max(message.next_attempt_at, now)
    copy = queue_message(
        session,
        clinic_id=message.clinic_id,
        channel=Channel.EMAIL,
        body=None if step else message.body,
        subject=None if step else _subject(session, message),
        kind=MessageKind.FALLBACK,
        priority=Priority(message.priority),
        due_at=due,
        valid_until=message.valid_until,
        dedupe_key=dedupe_key,
        patient_id=patient.id,
        enrollment_id=message.enrollment_id,
        language=message.language,
        reason=reason,
    )
    copy.due_at = min(message.due_at, due)  # the plan's time stays what the plan said
    copy.fallback_of_id = message.id
    copy.step_key, copy.occurrence = message.step_key, message.occurrence
    copy.context = message.context
    return copy


def _subject(session: Session, message: Message) -> str:
    if message.subject:
        return message.subject
    clinic = session.get(Clinic, message.clinic_id)
    return f"A message from {clinic.name}" if clinic else "A message from your clinic"
