"""What a send's result does to the row: sent, retry, failed (with consequences), in doubt.

Every status change goes through `outbox.transition`, so each has an event and a reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, select

from service import metrics
from service.channels.base import DeliveryError, Receipt
from service.contact_loss import carrier_opt_out, mark_unreachable
from service.db.models import Alert, Message, Patient
from service.dispatch.claim import release
from service.domain import AlertSeverity, Channel, MessageKind, MessageStatus
from service.fallback import is_safety, queue_email_copy
from service.logs import kv
from service.outbox import Move, transition, transition_many
from service.retry import RetryPolicy

log = logging.getLogger(__name__)
SAFETY_TASK_KIND = "safety_undelivered"


def record_sent(
    session: Session,
    message: Message,
    receipt: Receipt,
    *,
    now: datetime,
    reason: str = "accepted by the provider",
) -> None:
    transition(session, message, MessageStatus.SENT, reason=reason, now=now)
    message.provider, message.provider_id = receipt.provider, receipt.provider_id
    message.sent_at = now
    message.error_code = message.error_text = None
    metrics.MESSAGES_SENT.labels(channel=message.channel).inc()
    metrics.SEND_LATENESS.observe(max((now - message.due_at).total_seconds(), 0.0))


def record_sent_many(
    session: Session,
    sent: Sequence[tuple[Message, Receipt, datetime]],
    *,
    now: datetime,
    reason: str = "accepted by the provider",
) -> None:
    """`record_sent` for a batch of (row, receipt, when the provider answered), rows read
    `sending` under the caller's lock: one set-based transition writing the same columns
    and events (the events at `now`). The objects are not updated."""
    moves = [
        Move(
            message.id,  # type: ignore[arg-type]
            message.status,
            values={
                "provider": receipt.provider,
                "provider_id": receipt.provider_id,
                "sent_at": at,
            },
        )
        for message, receipt, at in sent
    ]
    transition_many(
        session,
        moves,
        MessageStatus.SENT,
        reason=reason,
        now=now,
        values={"error_code": None, "error_text": None},
    )
    counted = Counter(message.channel for message, _, _ in sent)
    for channel, count in counted.items():
        metrics.MESSAGES_SENT.labels(channel=channel).inc(count)
    for message, _, at in sent:
        metrics.SEND_LATENESS.observe(max((at - message.due_at).total_seconds(), 0.0))
    _record_delivered_at_handoff(session, sent, now=now)


def _record_delivered_at_handoff(
    session: Session, sent: Sequence[tuple[Message, Receipt, datetime]], *, now: datetime
) -> None:
    """The delivery receipt of adapters whose hand-off is the delivery (the console),
    delivered the instant it was sent."""
    moves = [
        Move(message.id, MessageStatus.SENT, values={"delivered_at": at})  # type: ignore[arg-type]
        for message, receipt, at in sent
        if receipt.delivered
    ]
    transition_many(
        session, moves, MessageStatus.DELIVERED, reason="delivered: written to the console",
        now=now, provider_status="delivered", actor="provider",
    )  # fmt: skip


def record_error(
    session: Session,
    message: Message,
    error: DeliveryError,
    *,
    patient: Patient | None,
    policy: RetryPolicy,
    now: datetime,
) -> None:
    message.error_code, message.error_text = error.provider_code, error.reason[:500]
    if error.permanent:
        fail(session, message, reason=error.reason, patient=patient, now=now, error=error)
    elif error.in_doubt:
        # Stays `sending`: only reconciliation with the provider may decide to resend.
        # The call is over, so it need not wait out the call's timeout: no claimer.
        log.warning(kv("dispatch.in_doubt", message_id=message.id, code=error.provider_code))
        message.claimed_by = None
        session.add(message)
    else:
        retry(
            session,
            message,
            reason=error.reason,
            patient=patient,
            policy=policy,
            now=now,
            retry_after=error.retry_after,
        )


def retry(
    session: Session,
    message: Message,
    *,
    reason: str,
    patient: Patient | None,
    policy: RetryPolicy,
    now: datetime,
    retry_after: float | None = None,
    at_once: bool = False,
) -> None:
    """Back to the queue per the policy's backoff, or (`at_once`: the provider was not at
    fault, our worker was) in its place now, within the same limits."""
    valid = message.valid_until is None or now <= message.valid_until
    if at_once and valid and message.attempts < policy.max_attempts:
        release(session, message, at=None, reason=f"retry: {reason}", now=now)
        metrics.MESSAGES_RETRIED.labels(channel=message.channel).inc()
        return
    at = policy.next_attempt(
        attempts=message.attempts,
        now=now,
        valid_until=message.valid_until,
        retry_after=retry_after,
    )
    if at is None:
        fail(
            session,
            message,
            reason=f"gave up after {message.attempts} attempts: {reason}",
            patient=patient,
            now=now,
        )
        return
    release(session, message, at=at, reason=f"retry: {reason}", now=now)
    metrics.MESSAGES_RETRIED.labels(channel=message.channel).inc()


def fail(
    session: Session,
    message: Message,
    *,
    reason: str,
    patient: Patient | None,
    now: datetime,
    error: DeliveryError | None = None,
) -> None:
    """Failed for good: mark the patient's channel, fall back, and tell staff if it mattered."""
    transition(
        session,
        message,
        MessageStatus.FAILED,
        reason=reason[:500],
        now=now,
        error_code=error.provider_code if error else None,
    )
    metrics.MESSAGES_FAILED.labels(channel=message.channel).inc()
    log.warning(kv("dispatch.failed", message_id=message.id, code=message.error_code))
    if patient is not None and error is not None:
        _mark_contact(session, patient, message, error, now=now)
    after_failure(session, message, patient, reason=reason, now=now)


def after_failure(
    session: Session, message: Message, patient: Patient | None, *, reason: str, now: datetime
) -> None:
    """A message that will not reach the patient, failed at send time or reported
    undelivered by the carrier: a safety message goes by email when it can and staff are
    asked to phone; another falls back to email when its plan says so."""
    if patient is None or message.kind == MessageKind.PAGE:
        return
    safety = is_safety(message)
    if not safety and message.fallback_channel != Channel.EMAIL:
        return
    copy = queue_email_copy(session, message, patient, now=now, dedupe_key=f"fallback:{message.id}",
                            reason=f"email fallback for message {message.id}")  # fmt: skip
    if safety:
        open_safety_task(session, message, reason=reason, now=now, emailed=copy is not None)


def _mark_contact(
    session: Session, patient: Patient, message: Message, error: DeliveryError, *, now: datetime
) -> None:
    if message.channel != Channel.SMS:
        return
    if error.opted_out:
        carrier_opt_out(session, patient, now=now)  # the carrier says STOP: honour it
    if error.not_mobile:
        mark_unreachable(session, patient, reason=error.reason, now=now)


def open_safety_task(
    session: Session, message: Message, *, reason: str, now: datetime, emailed: bool = False
) -> Alert:
    """A safety message that did not reach the patient by text: staff must phone them."""
    existing = session.exec(
        select(Alert).where(Alert.message_id == message.id, Alert.kind == SAFETY_TASK_KIND)
    ).first()
    if existing is not None:  # e.g. "undelivered" then "failed" for the same text
        return existing
    sent = "sent by email too" if emailed else "no email we may use"
    alert = Alert(
        clinic_id=message.clinic_id,
        patient_id=message.patient_id,
        enrollment_id=message.enrollment_id,
        message_id=message.id,
        severity=AlertSeverity.TASK,
        kind=SAFETY_TASK_KIND,
        summary=f"Safety message not delivered ({reason[:200]}; {sent}): phone the patient",
        created_at=now,
    )
    session.add(alert)
    metrics.ALERTS_OPENED.labels(severity=AlertSeverity.TASK).inc()
    return alert
