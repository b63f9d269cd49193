"""What the calls came to, written as they happen, many rows per transaction.

The sending threads hand each `Outcome` to the `Recorder`, whose thread writes what has
gathered every few milliseconds in one transaction: sent rows in one set-based
transition, errors (rare) one by one. So a crash leaves in doubt only the calls in
flight and the last few milliseconds of answers, never a whole batch, and no lock is
held while a call runs. If the database is unreachable, outcomes wait in memory and are
written when it is back; rows whose outcome is lost with the process are reconciled.

A row is only changed while it is still `sending` in the job's claim. A status
callback may have moved it on first (it carries the same provider id): the send is
then only completed (provider id, sent time).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlmodel import Session, select

from service.channels.base import DeliveryError, Receipt
from service.db.engine import session_scope
from service.db.models import Clinic, Enrollment, Message, Patient
from service.db.queries import one_of
from service.dispatch import outcome
from service.dispatch.checks import STALE, Action, Subject, Verdict, check
from service.dispatch.claim import release
from service.dispatch.context import DispatchContext
from service.dispatch.intake import _open_alerts, settle
from service.dispatch.lanes import RATE_LIMITED
from service.dispatch.send import LATE, NO_DATABASE, SHUTDOWN, Outcome
from service.domain import MessageStatus
from service.logs import kv

log = logging.getLogger(__name__)
# Seconds an outcome waits for others to share its transaction. A transaction costs a few
# milliseconds of CPU whatever its size: at 20 ms, a worker sending ~500/s wrote ~10 rows
# per transaction and spent more CPU recording than claiming (BENCHMARKS.md, Dispatch).
# A crash loses at most this much of answers; those rows are in doubt and reconciled.
_LINGER = 0.1
_MOST = 500  # outcomes per transaction
_RETRY = (0.1, 2.0)  # backoff while the database is unreachable (first, longest)
_READ = ("id", "status", "claim_count", "call_started_at", "provider_id", "sent_at",
         "channel", "due_at", "patient_id")  # fmt: skip
_RELEASED = {SHUTDOWN: "worker shutting down", NO_DATABASE: "database unreachable",
             LATE: "the worker fell behind its sender's send slot"}  # fmt: skip
_AFTER_SEND = {MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED}


def record_outcomes(ctx: DispatchContext, outcomes: Sequence[Outcome]) -> dict[int, str]:
    """Write the outcomes in one transaction; message id -> what happened."""
    results: dict[int, str] = {}
    with session_scope(ctx.engine) as session:
        now = ctx.clock()
        rows = _lock(session, {o.job.message_id for o in outcomes})
        sent: list[tuple[Any, Receipt, datetime]] = []
        rest: list[Outcome] = []
        for each in outcomes:
            row = rows.get(each.job.message_id)
            ours = row is not None and (row.status, row.claim_count) == (
                MessageStatus.SENDING, each.job.claim)  # fmt: skip
            if not ours:
                results[each.job.message_id] = _not_ours(session, row, each, now)
            elif isinstance(each.result, Receipt):
                sent.append((row, each.result, each.at or now))
                results[each.job.message_id] = "sent"
            else:
                rest.append(each)
        outcome.record_sent_many(session, sent, now=now)
        for each in rest:
            results[each.job.message_id] = _record_rest(ctx, session, each, now)
    return results


def _lock(session: Session, ids: set[int]) -> dict[int, Any]:
    """The rows as they stand, locked in id order (no deadlocks) until the commit."""
    table: Any = Message.__table__  # type: ignore[attr-defined]
    query = (
        select(*(table.c[name] for name in _READ))
        .where(one_of(session, table.c.id, ids))
        .order_by(table.c.id)
        .with_for_update()
    )
    return {row.id: row for row in session.connection().execute(query)}


def _not_ours(session: Session, row: Any, each: Outcome, now: datetime) -> str:
    """The row moved on without us: a callback that beat us, or (never expected) a
    reconciliation that gave up on a call whose answer came too late."""
    receipt = each.result
    if not isinstance(receipt, Receipt):
        return "lost"
    beaten = row is not None and row.status in _AFTER_SEND
    if beaten and row.provider_id in (None, receipt.provider_id):
        message = session.get(Message, row.id)
        assert message is not None
        message.provider, message.provider_id = receipt.provider, receipt.provider_id
        message.sent_at = message.sent_at or each.at or now
        session.add(message)
        return "sent"
    log.error(kv("dispatch.lost_claim_after_send", message_id=each.job.message_id))
    return "lost"


def _record_rest(ctx: DispatchContext, session: Session, each: Outcome, now: datetime) -> str:
    """An error, or a job whose call was not made (the rare paths, on ORM objects)."""
    message = session.get(Message, each.job.message_id)
    assert message is not None
    patient = session.get(Patient, message.patient_id) if message.patient_id else None
    if isinstance(each.result, DeliveryError):
        error = each.result
        outcome.record_error(
            session, message, error, patient=patient, policy=ctx.retry_policy, now=now
        )
        return "in_doubt" if error.in_doubt and not error.permanent else message.status
    if message.call_started_at is not None:
        # The fence was written but its answer was lost, and no call followed it.
        message.attempts = max(message.attempts - 1, 0)
    if each.not_started in _RELEASED:
        why = _RELEASED[each.not_started]
        release(session, message, at=None, reason=f"released unsent: {why}", now=now)
        return "released"
    verdict = check(_subject(session, message, patient), now=now, hold=ctx.options.hold)
    if verdict.reason == STALE and each.job.not_before is not None:
        verdict = Verdict(Action.SKIP, RATE_LIMITED)  # it waited for its sender's slot
    if verdict.action != Action.SEND:
        settle(session, each.job.message_id, verdict, now=now)
        return verdict.action.value
    release(session, message, at=None, reason="released: claim expired before send", now=now)
    return "released"


def _subject(session: Session, message: Message, patient: Patient | None) -> Subject:
    enrollment = session.get(Enrollment, message.enrollment_id) if message.enrollment_id else None
    clinic = session.get(Clinic, message.clinic_id)
    assert clinic is not None
    alerted = patient is not None and bool(_open_alerts(session, {patient.id or 0}))
    return Subject(message, patient, enrollment, clinic, alerted)


class Recorder:
    """A thread writing outcomes as they come; `put` never blocks on the database."""

    def __init__(self, ctx: DispatchContext, *, on_written: Callable[[int], None] | None = None):
        self.ctx = ctx
        self.on_written = on_written
        self._pending: list[Outcome] = []
        self._writing = 0
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="dispatch-recorder", daemon=True)
        self._thread.start()

    def put(self, each: Outcome) -> None:
        with self._cond:
            self._pending.append(each)
            # Wake the writer only when it waits for a first outcome or has enough: a
            # wake-up per outcome would cut its lingering short (and cost the GIL).
            if len(self._pending) in (1, _MOST):
                self._cond.notify_all()

    def idle(self, timeout: float | None) -> bool:
        """Wait until every outcome put so far is written (True) or `timeout` passes."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending or self._writing:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float) -> bool:
        """Write what is pending (for at most `timeout` seconds), then stop."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        delay = _RETRY[0]
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                record_outcomes(self.ctx, batch)
            except (sa_exc.OperationalError, sa_exc.InterfaceError):
                if self._retry_later(batch, delay):
                    return
                delay = min(delay * 2, _RETRY[1])
                continue
            except Exception:
                self._one_by_one(batch)
            delay = _RETRY[0]
            self._written(len(batch))

    def _take(self) -> list[Outcome] | None:
        with self._cond:
            while not self._pending and not self._closing:
                self._cond.wait()
            if not self._pending:
                return None
            until = time.monotonic() + _LINGER
            while not self._closing and len(self._pending) < _MOST:
                left = until - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch, self._pending = self._pending[:_MOST], self._pending[_MOST:]
            self._writing = len(batch)
            return batch

    def _retry_later(self, batch: list[Outcome], delay: float) -> bool:
        """Back in the queue after a pause; True when closing (they are left in doubt)."""
        log.warning(kv("dispatch.record_waiting", outcomes=len(batch), retry_in=delay))
        with self._cond:
            self._writing = 0
            self._pending[:0] = batch
            if self._closing:
                return True
            self._cond.wait(delay)
        return False

    def _one_by_one(self, batch: list[Outcome]) -> None:
        """A batch that fails for another reason: each outcome alone, so one bad row
        cannot stop the others; a row that still fails stays `sending`, in doubt."""
        for each in batch:
            try:
                record_outcomes(self.ctx, [each])
            except Exception:
                log.exception(kv("dispatch.record_failed", message_id=each.job.message_id))

    def _written(self, count: int) -> None:
        with self._cond:
            self._writing = 0
            self._cond.notify_all()
        if self.on_written is not None:
            self.on_written(count)
