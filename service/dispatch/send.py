"""Claimed rows through their channel adapters, a batch per transaction.

Just before the provider calls, under the row locks, each row is re-read and re-checked
(opt-out, consent, enrolment, validity, quiet hours, open alerts). On PostgreSQL the
transaction also holds share locks on the patients' rows *across* the provider calls:
a STOP that sets `sms_opted_out_at` must wait for in-flight sends and commits after
them, so no SMS ever leaves after an opt-out has been committed. On SQLite (one embedded
process, where a held write lock would stall every other writer) the checks and the calls
are back to back in two short transactions. A batch shares its queries and its commit,
which is what lets one process keep up with the provider.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from service.channels.base import DeliveryError, OutboundMessage, Receipt
from service.db.engine import session_scope
from service.db.models import Alert, Clinic, Enrollment, Message, Patient
from service.db.queries import one_of
from service.dispatch import outcome
from service.dispatch.checks import Action, Subject, Verdict, check
from service.dispatch.claim import release
from service.dispatch.content import ContentError, outbound, rows_by_id, unsubscribe_headers
from service.dispatch.context import DispatchContext
from service.domain import AlertStatus, MessageStatus
from service.logs import kv
from service.outbox import transition

log = logging.getLogger(__name__)
Result = Receipt | DeliveryError
Call = Callable[[], Result]
CallMany = Callable[[Sequence[Call]], list[Result]]  # runs the calls, results in order


@dataclass(frozen=True)
class Claim:
    """A claimed row; `attempts` tells this claim apart from any later one of the same row."""

    message_id: int
    attempts: int


@dataclass
class _Ready:
    """A row that passed its checks: read-only rows as read under the pre-send lock (ORM
    objects only after `_reload`, for the rare error to be recorded)."""

    message: Any
    patient: Any
    outbound: OutboundMessage


def send_claimed(ctx: DispatchContext, claim: Claim, *, stopping: Callable[[], bool]) -> str:
    """One row, calls made on this thread; returns what happened (for logs and tests)."""
    results = send_batch(ctx, [claim], stopping=stopping, call_many=sequential_calls(ctx))
    return results[claim.message_id]


def sequential_calls(ctx: DispatchContext) -> CallMany:
    return lambda calls: [each() for each in calls]


class ClaimExpired(DeliveryError):
    """The call was not started: its claim had grown older than the claim TTL while it
    waited for a sending thread (reconciliation may already treat the row as in doubt)."""

    def __init__(self) -> None:
        super().__init__("released: claim expired before send", permanent=False)


def send_batch(
    ctx: DispatchContext,
    claims: Sequence[Claim],
    *,
    stopping: Callable[[], bool],
    call_many: CallMany,
) -> dict[int, str]:
    """Re-check, send and record claimed rows; message id -> what happened."""
    results: dict[int, str] = {}
    if ctx.hold_lock_during_call:
        with session_scope(ctx.engine) as session:
            ready = _pre_send(ctx, session, claims, results, stopping=stopping, lock=True)
            sent = call_many(_calls(ctx, ready))
            ours = {item.outbound.message_id for item in ready}  # locked all along
            _record_all(ctx, session, ready, sent, results, ours=ours)
        return results
    with session_scope(ctx.engine) as session:
        ready = _pre_send(ctx, session, claims, results, stopping=stopping, lock=False)
    if not ready:
        return results
    sent = call_many(_calls(ctx, ready))
    with session_scope(ctx.engine) as session:
        ours = _still_ours(
            session, [Claim(r.outbound.message_id, r.message.attempts) for r in ready]
        )
        _record_all(ctx, session, ready, sent, results, ours=ours)
    return results


def _calls(ctx: DispatchContext, ready: list[_Ready]) -> list[Call]:
    return [partial(call_in_time, ctx, item.outbound, _deadline(ctx, item)) for item in ready]


def _deadline(ctx: DispatchContext, item: _Ready) -> datetime:
    assert item.message.claimed_at is not None  # checked in `_pre_send_one`
    return item.message.claimed_at + ctx.options.claim_ttl


def call_in_time(ctx: DispatchContext, message: OutboundMessage, deadline: datetime) -> Result:
    """The provider call, started only while the claim is younger than the claim TTL: a
    call queued behind slow ones must not start after reconciliation may have taken over."""
    if ctx.clock() > deadline:
        return ClaimExpired()
    return call(ctx, message)


# What the checks, the adapter and the record step read from a claimed row.
_CHECKED_COLUMNS = (
    "id",
    "clinic_id",
    "patient_id",
    "enrollment_id",
    "kind",
    "channel",
    "priority",
    "context",
    "to_address",
    "due_at",
    "valid_until",
    "status",
    "attempts",
    "claimed_at",
    "subject",
    "body",
    "body_html",
)


def _lock_ours(session: Session, claims: Sequence[Claim]) -> dict[int, Any]:
    """The claimed rows, locked in id order (no deadlocks), still in this claim; read-only
    rows of `_CHECKED_COLUMNS` (no ORM objects: most of them are only read)."""
    wanted = {c.message_id: c.attempts for c in claims}
    table: Any = Message.__table__  # type: ignore[attr-defined]
    query = (
        select(*(table.c[name] for name in _CHECKED_COLUMNS))
        .where(one_of(session, table.c.id, wanted))
        .order_by(table.c.id)
        .with_for_update()
    )
    return {
        row.id: row
        for row in session.connection().execute(query)
        if row.status == MessageStatus.SENDING and row.attempts == wanted[row.id]
    }


def _still_ours(session: Session, claims: Sequence[Claim]) -> set[int]:
    """Ids of the claimed rows still `sending` in this claim (SQLite: the transaction is
    already exclusive, so plain columns are enough; no objects are built)."""
    wanted = {c.message_id: c.attempts for c in claims}
    query = select(Message.id, Message.status, Message.attempts).where(
        one_of(session, col(Message.id), wanted)
    )
    return {
        mid  # type: ignore[misc]
        for mid, status, attempts in session.exec(query).all()
        if status == MessageStatus.SENDING and attempts == wanted[mid]  # type: ignore[index]
    }


def _objects_by_id(session: Session, model: Any, ids: set[int | None]) -> dict[Any, Any]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    query = select(model).where(one_of(session, col(model.id), ids)).order_by(col(model.id))
    return {row.id: row for row in session.exec(query).all()}


def _pre_send(
    ctx: DispatchContext,
    session: Session,
    claims: Sequence[Claim],
    results: dict[int, str],
    *,
    stopping: Callable[[], bool],
    lock: bool,
) -> list[_Ready]:
    now = ctx.clock()
    messages = _lock_ours(session, claims)
    results.update({c.message_id: "lost" for c in claims if c.message_id not in messages})
    # Read-only rows; FOR SHARE on PostgreSQL: a concurrent STOP waits for the calls.
    patient_ids = {m.patient_id for m in messages.values()}
    patients = rows_by_id(session, Patient, patient_ids, share_lock=lock)
    enrollments = rows_by_id(session, Enrollment, {m.enrollment_id for m in messages.values()})
    clinics = rows_by_id(session, Clinic, {m.clinic_id for m in messages.values()})
    alerted = _open_alerts(session, set(patients))
    ready = []
    for message in messages.values():
        subject = Subject(
            message,
            patients.get(message.patient_id),
            enrollments.get(message.enrollment_id),
            clinics[message.clinic_id],
            message.patient_id in alerted,
        )
        item = _pre_send_one(ctx, session, subject, now=now, stopping=stopping)
        if isinstance(item, str):
            results[message.id] = item
        else:
            ready.append(item)
    return ready


def _pre_send_one(
    ctx: DispatchContext,
    session: Session,
    subject: Subject,
    *,
    now: datetime,
    stopping: Callable[[], bool],
) -> _Ready | str:
    row = subject.message
    if stopping():
        message, _ = _objects(session, subject)
        release(session, message, at=now, reason="released: worker shutting down", now=now)
        return "released"
    if row.claimed_at is None or now - row.claimed_at > ctx.options.claim_ttl:
        message, _ = _objects(session, subject)
        release(session, message, at=now, reason="released: claim expired before send", now=now)
        return "released"
    verdict = check(subject, now=now, hold=ctx.options.hold)
    if verdict.action != Action.SEND:
        _apply(session, *_objects(session, subject), verdict, now=now)
        return verdict.action.value
    try:
        headers = unsubscribe_headers(row, subject.clinic, ctx.unsubscribe, ctx.settings.email_from)
        return _Ready(row, subject.patient, outbound(row, subject.clinic, headers))
    except ContentError as exc:
        message, patient = _objects(session, subject)
        outcome.fail(session, message, reason=str(exc), patient=patient, now=now)
        return "failed"


def _objects(session: Session, subject: Subject) -> tuple[Message, Patient | None]:
    """The row (and its patient) as ORM objects, to be changed: the rare paths that do
    not send. The rows are already locked by this transaction."""
    message = session.get(Message, subject.message.id)
    assert message is not None
    patient = None if subject.patient is None else session.get(Patient, subject.patient.id)
    return message, patient


def _open_alerts(session: Session, patient_ids: set[int]) -> set[int]:
    """Patients whose routine plan messages wait; INBOUND's rule decides each candidate."""
    try:
        from service.alerts import patient_has_open_alert
    except ImportError:  # INBOUND's module not there: nothing is held
        return set()
    if not patient_ids:
        return set()
    # One query narrows the batch to patients with any unresolved alert at all.
    query = select(Alert.patient_id, func.count()).where(
        one_of(session, col(Alert.patient_id), patient_ids), Alert.status != AlertStatus.RESOLVED
    )
    candidates = {pid for pid, _ in session.exec(query.group_by(col(Alert.patient_id))).all()}
    return {pid for pid in candidates if pid is not None and patient_has_open_alert(session, pid)}


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


def call(ctx: DispatchContext, message: OutboundMessage) -> Result:
    """The provider call; never raises (an unexpected error is an unknown outcome)."""
    try:
        return ctx.adapter(message.channel).send(message)
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # an adapter bug: we cannot know whether it sent
        log.exception(kv("dispatch.adapter_crashed", message_id=message.message_id))
        return DeliveryError(f"adapter error: {type(exc).__name__}", permanent=False, in_doubt=True)


def _record_all(
    ctx: DispatchContext,
    session: Session,
    ready: list[_Ready],
    sent: list[Result],
    results: dict[int, str],
    *,
    ours: set[int],
) -> None:
    """Sent rows in one set-based transition; errors (rare) one by one on the ORM path."""
    now = ctx.clock()
    receipts: list[tuple[Message, Receipt]] = []
    errors: list[tuple[_Ready, DeliveryError]] = []
    for item, result in zip(ready, sent, strict=True):
        message_id = item.outbound.message_id
        if message_id not in ours:
            log.error(kv("dispatch.lost_claim_after_send", message_id=message_id))
            results[message_id] = "lost"
        elif isinstance(result, Receipt):
            receipts.append((item.message, result))
            results[message_id] = "sent"
        else:
            errors.append((item, result))
    outcome.record_sent_many(session, receipts, now=now)
    if errors:
        _reload(session, [item for item, _ in errors])
    for item, error in errors:
        results[item.outbound.message_id] = _record_error(ctx, session, item, error, now)


def _reload(session: Session, items: list[_Ready]) -> None:
    """Rows (and patients) as ORM objects, read again in this transaction, to be changed."""
    messages = _objects_by_id(session, Message, {i.outbound.message_id for i in items})
    patients = _objects_by_id(session, Patient, {i.message.patient_id for i in items})
    for item in items:
        item.message = messages[item.outbound.message_id]
        item.patient = patients.get(item.message.patient_id)


def _record_error(
    ctx: DispatchContext, session: Session, item: _Ready, error: DeliveryError, now: datetime
) -> str:
    message = item.message
    if isinstance(error, ClaimExpired):
        release(session, message, at=now, reason=error.reason, now=now)
        return "released"
    outcome.record_error(
        session, message, error, patient=item.patient, policy=ctx.retry_policy, now=now
    )
    return "in_doubt" if error.in_doubt and not error.permanent else message.status
