"""Applying provider delivery receipts (status callbacks) to message rows.

Receipts arrive late, twice, and out of order. Each one is recorded as a MessageEvent
(the full history), but it only moves the row forward: `outbox.transition` refuses a
late "sent" after "delivered". A replay of a receipt already recorded changes nothing.

A text the carrier could not deliver after accepting it is acted on like a failed send
(`dispatch.outcome.after_failure`): a safety message goes by email and staff are asked
to phone; a step with an email fallback sends it. A number the carrier says cannot take
texts gets no more of them (`contact_loss.mark_unreachable`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session, select

from service.channels.twilio_status import DeliveryStatus
from service.contact_loss import mark_unreachable
from service.db.models import Message, MessageEvent, Patient
from service.dispatch.outcome import after_failure
from service.domain import Channel, MessageKind, MessageStatus
from service.logs import kv
from service.outbox import can_transition, transition

log = logging.getLogger(__name__)
ACTOR = "provider"


def find_message(
    session: Session, *, message_id: int | None, provider_id: str | None
) -> Message | None:
    """By our id (from the callback URL) when it agrees with the provider id, else by it.

    The row is locked so a dispatcher committing the send cannot interleave with us.
    """
    if message_id is not None:
        message = session.get(Message, message_id, with_for_update=True)
        # A different provider id means another attempt's receipt: match that by sid.
        if message is not None and (
            provider_id is None or message.provider_id in (None, provider_id)
        ):
            return message
    if provider_id:
        statement = select(Message).where(Message.provider_id == provider_id).with_for_update()
        return session.exec(statement).first()
    return None


def apply_receipt(
    session: Session, *, message: Message, provider_id: str | None, receipt: DeliveryStatus,
    now: datetime,
) -> bool:  # fmt: skip
    """Record the receipt; move the row forward if it says more. True if status changed."""
    if _already_recorded(session, message, receipt):
        return False
    if provider_id and message.provider_id is None:
        message.provider_id = provider_id  # the callback beat the dispatcher's commit
    target = receipt.status
    if target is not None and can_transition(message.status, target):
        _note_outcome(message, target, receipt, now)
        transition(
            session, message, target, reason=receipt.reason, now=now,
            provider_status=receipt.provider_status, error_code=receipt.error_code, actor=ACTOR,
        )  # fmt: skip
        log.info(kv("delivery.receipt", message_id=message.id, status=target))
        if target in (MessageStatus.UNDELIVERED, MessageStatus.FAILED):
            _not_delivered(session, message, receipt, now)
        return True
    session.add(
        MessageEvent(
            message_id=message.id,  # type: ignore[arg-type]
            at=now,
            from_status=message.status,
            to_status=message.status,
            reason=f"{receipt.reason} (recorded; status stays {message.status})",
            provider_status=receipt.provider_status,
            error_code=receipt.error_code,
            actor=ACTOR,
        )
    )
    return False


def _not_delivered(
    session: Session, message: Message, receipt: DeliveryStatus, now: datetime
) -> None:
    if message.channel != Channel.SMS or message.patient_id is None:
        return
    if message.kind == MessageKind.PAGE:
        return  # a page's recipient is staff; escalation covers an unanswered page
    patient = session.get(Patient, message.patient_id)
    if patient is None:
        return
    if receipt.unreachable:
        mark_unreachable(session, patient, reason=receipt.reason, now=now)
    after_failure(session, message, patient, reason=receipt.reason, now=now)


def _note_outcome(message: Message, target: MessageStatus, receipt: DeliveryStatus,
                  now: datetime) -> None:  # fmt: skip
    if target == MessageStatus.DELIVERED:
        message.delivered_at = now
    if target in (MessageStatus.UNDELIVERED, MessageStatus.FAILED) and receipt.error_code:
        message.error_code = receipt.error_code
        message.error_text = receipt.reason[:500]


def _already_recorded(session: Session, message: Message, receipt: DeliveryStatus) -> bool:
    statement = select(MessageEvent.id).where(
        MessageEvent.message_id == message.id,
        MessageEvent.actor == ACTOR,
        MessageEvent.provider_status == receipt.provider_status,
        MessageEvent.error_code == receipt.error_code
        if receipt.error_code
        else MessageEvent.error_code.is_(None),  # type: ignore[union-attr]
    )
    return session.exec(statement).first() is not None
