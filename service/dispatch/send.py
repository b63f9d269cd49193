"""One claimed row through its channel adapter.

Just before the provider call, under the row lock, the row is re-read and re-checked
(opt-out, consent, enrolment, validity, quiet hours, open alerts). On PostgreSQL the
transaction also holds a share lock on the patient row *across* the provider call: a
STOP that sets `sms_opted_out_at` must wait for the in-flight send and commits after it,
so no SMS ever leaves after an opt-out has been committed. On SQLite (one embedded
process, where a held write lock would serialise every send) the check and the call are
back to back in two short transactions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from service.channels.base import DeliveryError, OutboundMessage, Receipt
from service.db.engine import session_scope
from service.db.models import Clinic, Enrollment, Message, Patient
from service.dispatch import outcome
from service.dispatch.checks import Action, Subject, Verdict, check
from service.dispatch.claim import lock_message, release
from service.dispatch.content import ContentError, outbound
from service.dispatch.context import DispatchContext
from service.domain import MessageStatus
from service.logs import kv
from service.outbox import transition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """A claimed row; `attempts` tells this claim apart from any later one of the same row."""

    message_id: int
    attempts: int


@dataclass
class _Ready:
    message: Message
    patient: Patient | None
    outbound: OutboundMessage


def send_claimed(ctx: DispatchContext, claim: Claim, *, stopping: Callable[[], bool]) -> str:
    """Re-check, send and record one claimed row; returns what happened (for logs/tests)."""
    if ctx.hold_lock_during_call:
        with session_scope(ctx.engine) as session:
            ready = _pre_send(ctx, session, claim, stopping=stopping, lock_patient=True)
            if isinstance(ready, str):
                return ready
            result = _call(ctx, ready.outbound)
            return _record(ctx, session, ready.message, ready.patient, result)
    with session_scope(ctx.engine) as session:
        ready = _pre_send(ctx, session, claim, stopping=stopping, lock_patient=False)
    if isinstance(ready, str):
        return ready
    result = _call(ctx, ready.outbound)
    with session_scope(ctx.engine) as session:
        message = _ours(session, claim)
        if message is None:
            log.error(kv("dispatch.lost_claim_after_send", message_id=claim.message_id))
            return "lost"
        patient = session.get(Patient, message.patient_id) if message.patient_id else None
        return _record(ctx, session, message, patient, result)


def _ours(session: Session, claim: Claim) -> Message | None:
    message = lock_message(session, claim.message_id)
    if message is None or message.status != MessageStatus.SENDING:
        return None
    return message if message.attempts == claim.attempts else None


def _pre_send(
    ctx: DispatchContext,
    session: Session,
    claim: Claim,
    *,
    stopping: Callable[[], bool],
    lock_patient: bool,
) -> _Ready | str:
    now = ctx.clock()
    message = _ours(session, claim)
    if message is None:
        return "lost"  # released by reconciliation or shutdown; someone else owns it now
    if stopping():
        release(session, message, at=now, reason="released: worker shutting down", now=now)
        return "released"
    if message.claimed_at is None or now - message.claimed_at > ctx.options.claim_ttl:
        release(session, message, at=now, reason="released: claim expired before send", now=now)
        return "released"
    subject = _subject(session, message, lock_patient=lock_patient)
    verdict = check(subject, now=now, hold=ctx.options.hold)
    if verdict.action != Action.SEND:
        _apply(session, message, subject.patient, verdict, now=now)
        return verdict.action.value
    try:
        return _Ready(message, subject.patient, outbound(message, subject.clinic))
    except ContentError as exc:
        outcome.fail(session, message, reason=str(exc), patient=subject.patient, now=now)
        return "failed"


def _subject(session: Session, message: Message, *, lock_patient: bool) -> Subject:
    patient = None
    if message.patient_id is not None:
        query = select(Patient).where(Patient.id == message.patient_id)
        if lock_patient:
            query = query.with_for_update(read=True)  # FOR SHARE: blocks a concurrent STOP
        patient = session.exec(query).first()
    enrollment = session.get(Enrollment, message.enrollment_id) if message.enrollment_id else None
    clinic = session.get(Clinic, message.clinic_id)
    assert clinic is not None  # a foreign key
    return Subject(message, patient, enrollment, clinic, _open_alert(session, message))


def _open_alert(session: Session, message: Message) -> bool:
    if message.patient_id is None:
        return False
    try:
        from service.alerts import patient_has_open_alert
    except ImportError:  # INBOUND's module not there yet: nothing is held
        return False
    return bool(patient_has_open_alert(session, message.patient_id))


def _apply(
    session: Session, message: Message, patient: Patient | None, verdict: Verdict, *, now: datetime
) -> None:
    reason = verdict.reason or verdict.action.value
    log.info(kv("dispatch.not_sent", message_id=message.id, verdict=verdict.action.value))
    if verdict.action == Action.HOLD:
        assert verdict.until is not None
        release(session, message, at=verdict.until, reason=reason, now=now)
    elif verdict.action == Action.FAIL:
        outcome.fail(session, message, reason=reason, patient=patient, now=now)
    else:
        transition(session, message, verdict.status, reason=reason, now=now)


def _call(ctx: DispatchContext, message: OutboundMessage) -> Receipt | DeliveryError:
    try:
        return ctx.adapter(message.channel).send(message)
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # an adapter bug: we cannot know whether it sent
        log.exception(kv("dispatch.adapter_crashed", message_id=message.message_id))
        return DeliveryError(f"adapter error: {type(exc).__name__}", permanent=False, in_doubt=True)


def _record(
    ctx: DispatchContext,
    session: Session,
    message: Message,
    patient: Patient | None,
    result: Receipt | DeliveryError,
) -> str:
    now = ctx.clock()
    if isinstance(result, Receipt):
        outcome.record_sent(session, message, result, now=now)
        return "sent"
    outcome.record_error(
        session, message, result, patient=patient, policy=ctx.retry_policy, now=now
    )
    return "in_doubt" if result.in_doubt and not result.permanent else message.status
