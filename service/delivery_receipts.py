"""Applying provider delivery receipts (status callbacks) to message rows.

A callback is recorded as it arrives (`service.api.receipts_writer`: many per INSERT,
so the webhook answers in milliseconds however many a burst brings) and applied later,
many per transaction, by the workers' `receipts` job (`apply_pending`): a burst of
3,000 messages brings 6,000 callbacks at the send rate, which one web process could not
apply one by one (BENCHMARKS.md, Callbacks).

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
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from service.channels.twilio_status import DeliveryStatus, translate
from service.contact_loss import mark_unreachable
from service.db.engine import session_scope
from service.db.models import Message, MessageEvent, Patient, StatusCallback
from service.db.queries import one_of
from service.dispatch.outcome import after_failure
from service.domain import Channel, MessageKind, MessageStatus
from service.logs import kv
from service.outbox import can_transition, transition

log = logging.getLogger(__name__)
ACTOR = "provider"


def apply_receipt(
    session: Session, *, message: Message, provider_id: str | None, receipt: DeliveryStatus,
    now: datetime, recorded: set[tuple[int, str, str | None]] | None = None,
) -> bool:  # fmt: skip
    """Record the receipt; move the row forward if it says more. True if status changed.
    `recorded`: the (message id, provider status, error code) already recorded, when the
    caller read them for a batch (else they are looked up)."""
    key = (message.id or 0, receipt.provider_status, receipt.error_code)
    if key in recorded if recorded is not None else _already_recorded(session, message, receipt):
        return False
    if recorded is not None:
        recorded.add(key)
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


def apply_pending(engine: Engine, *, now: datetime, limit: int = 1000) -> int:
    """Apply up to `limit` recorded callbacks, oldest first, in one transaction, and
    forget them; how many were taken. Workers share them (SKIP LOCKED)."""
    table: Any = StatusCallback.__table__  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        query = select(table).order_by(table.c.id).limit(limit).with_for_update(skip_locked=True)
        callbacks = list(session.connection().execute(query))
        if not callbacks:
            return 0
        messages = _messages_for(session, callbacks)
        recorded = _recorded(session, {m.id for m in messages.values() if m.id is not None})
        for callback in callbacks:
            message = messages.get(callback.id)
            if message is None:
                # Twilio could do nothing useful with an error: it had its 2xx.
                log.warning(kv("delivery.unknown_message", mid=callback.message_id))
                continue
            apply_receipt(
                session, message=message, provider_id=callback.provider_id,
                receipt=translate(callback.provider_status, callback.error_code), now=now,
                recorded=recorded,
            )  # fmt: skip
        ids = [callback.id for callback in callbacks]
        session.connection().execute(delete(table).where(one_of(session, table.c.id, ids)))
    return len(callbacks)


def _messages_for(session: Session, callbacks: list[Any]) -> dict[int, Message]:
    """Callback id -> its message, locked: by our id (from the callback URL) when it
    agrees with the provider id, else by the provider id (another attempt's receipt)."""
    ours = {c.message_id for c in callbacks if c.message_id is not None}
    sids = {c.provider_id for c in callbacks if c.provider_id}
    table: Any = Message.__table__  # type: ignore[attr-defined]
    known = (
        session.connection()
        .execute(
            select(table.c.id, table.c.provider_id).where(
                one_of(session, table.c.id, ours) | one_of(session, table.c.provider_id, sids)
            )
        )
        .all()
    )
    by_id = {row.id: row.provider_id for row in known}
    by_sid = {row.provider_id: row.id for row in known if row.provider_id}
    chosen: dict[int, int] = {}
    for callback in callbacks:
        mid = callback.message_id
        if mid in by_id and (
            callback.provider_id is None or by_id[mid] in (None, callback.provider_id)
        ):
            chosen[callback.id] = mid
        elif callback.provider_id in by_sid:
            chosen[callback.id] = by_sid[callback.provider_id]
    locked = session.exec(
        select(Message)
        .where(one_of(session, col(Message.id), set(chosen.values())))
        .order_by(col(Message.id))
        .with_for_update()
    ).all()
    rows = {message.id: message for message in locked}
    return {cid: rows[mid] for cid, mid in chosen.items() if mid in rows}


def _recorded(session: Session, message_ids: set[int]) -> set[tuple[int, str, str | None]]:
    if not message_ids:
        return set()
    query = select(MessageEvent.message_id, MessageEvent.provider_status, MessageEvent.error_code)
    query = query.where(
        one_of(session, col(MessageEvent.message_id), message_ids), MessageEvent.actor == ACTOR
    )
    return {(mid, status, code) for mid, status, code in session.exec(query).all() if status}
