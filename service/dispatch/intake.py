"""One claim transaction: take due rows, check them, fix their content, hand out jobs.

In the transaction that claims them, each row is checked (opt-out, consent, enrolment,
validity, quiet hours, open alerts: `checks`); a row that must not go now is settled at
once (cancelled, skipped, failed or held back to the queue), and a row that may go is
rendered and its exact content and recipient stored before anything is sent. What
comes out is a `Job` per row to send: the adapter's message and what the call's fence
needs. Nothing stays locked once the transaction commits: the opt-out is checked again
by the fence, one statement, right before the call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from service.channels.base import OutboundMessage
from service.db.engine import session_scope
from service.db.models import Alert, Message, Patient
from service.db.queries import one_of
from service.dispatch import outcome
from service.dispatch.checks import STALE, Action, Subject, Verdict, check, opt_out_fence
from service.dispatch.claim import claim_due, release
from service.dispatch.content import (
    ContentError,
    content_of,
    load_related,
    outbound,
    store_content,
    unsubscribe_headers,
)
from service.dispatch.context import DispatchContext
from service.dispatch.lanes import NO_SLOT_IN_TIME, Lanes
from service.domain import AlertStatus, Priority
from service.logs import kv
from service.outbox import transition

log = logging.getLogger(__name__)
_CALL_LAG = 1.0  # real seconds a call may start after its slot (fence, thread, GIL)


@dataclass(frozen=True)
class Job:
    """A claimed, checked and prepared row: one provider call to make."""

    message_id: int
    claim: int  # the row's claim_count: tells this claim from any later one
    patient_id: int | None
    claimed_at: datetime
    urgent: bool
    opt_out: str | None  # the patient's opt-out column the fence checks (None: no fence)
    outbound: OutboundMessage
    channel: str
    due_at: datetime
    not_before: datetime | None = None  # its sender's slot: no call before it (None: now)


@dataclass
class Claimed:
    """What one claim hands out: the jobs, and when a busy sender next has a slot."""

    jobs: list[Job]
    room_at: datetime | None = None


def claim_jobs(ctx: DispatchContext, *, limit: int, urgent_only: bool = False) -> Claimed:
    """Claim up to `limit` due rows (urgent first, as their senders' rates allow) and
    return those to send, each with its send slot."""
    lanes = Lanes(defaults=ctx.sender_defaults, ahead=ctx.options.pace_ahead)
    with session_scope(ctx.engine) as session:
        now = ctx.clock()
        rows = claim_due(session, worker_id=ctx.worker_id, now=now, limit=limit,
                         urgent_only=urgent_only, lanes=lanes)  # fmt: skip
        if not rows:
            return Claimed([], lanes.room_at)
        related = load_related(session, rows)
        alerted = _open_alerts(session, set(related["patient"]))
        jobs, contents, ready = [], [], []
        for row in rows:
            subject = Subject(
                row,
                related["patient"].get(row.patient_id),  # type: ignore[arg-type]
                related["enrollment"].get(row.enrollment_id),  # type: ignore[arg-type]
                related["clinic"][row.clinic_id],  # type: ignore[arg-type]
                row.patient_id in alerted,
            )
            job = _prepare(ctx, session, subject, lanes, now=now)
            if job is not None:
                jobs.append(job[0])
                contents.append(job[1])
                ready.append(row)
        store_content(session, ready, contents)
        lanes.save(session)
    return Claimed(jobs, lanes.room_at)


def _prepare(
    ctx: DispatchContext, session: Session, subject: Subject, lanes: Lanes, *, now: datetime
) -> tuple[Job, dict[str, Any]] | None:
    """The row's job and content, or None once a row that must not go now is settled.
    The checks look at the row as at its send slot: a row whose validity ends before
    its sender's next free slot is skipped, never sent late; one whose slot falls in
    quiet hours waits for their end."""
    row: Any = subject.message  # a read-only row of the claim's columns
    slot = lanes.next_slot(row, now)
    # Checked as at the call: its slot, plus the lag a call may start after it.
    at = slot + timedelta(seconds=_CALL_LAG * ctx.clock_rate)
    verdict = paced_verdict(check(subject, now=at, hold=ctx.options.hold), row, lanes, now, slot)
    if verdict.action != Action.SEND:
        settle(session, row.id, verdict, now=now)
        return None
    try:
        values = content_of(
            session, row, patient=subject.patient, enrollment=subject.enrollment,
            clinic=subject.clinic, renderer=ctx.templates, plans=ctx.plans, links=ctx.unsubscribe,
        )  # fmt: skip
        headers = unsubscribe_headers(row, subject.clinic, ctx.unsubscribe, ctx.settings.email_from)
        message = outbound(row, subject.clinic, headers, content=values)
    except ContentError as exc:
        _fail(session, row.id, str(exc), now=now)
        return None
    job = Job(
        message_id=row.id, claim=row.claim_count, patient_id=row.patient_id,
        claimed_at=row.claimed_at,
        urgent=row.priority == Priority.URGENT, opt_out=opt_out_fence(row), outbound=message,
        channel=row.channel, due_at=row.due_at, not_before=lanes.take(row, now),
    )  # fmt: skip
    return job, values


def paced_verdict(
    verdict: Verdict, row: Any, lanes: Lanes, now: datetime, slot: datetime
) -> Verdict:
    """A skip for validity says why: valid now but not at the slot its sender's rate
    gave it, or it waited until too late (for its sender's slots, or for a worker)."""
    if verdict.reason != STALE:
        return verdict
    if slot > now and row.valid_until is not None and now <= row.valid_until:
        return Verdict(Action.SKIP, NO_SLOT_IN_TIME)
    return Verdict(Action.SKIP, lanes.expired_reason(row))


def settle(session: Session, message_id: int, verdict: Verdict, *, now: datetime) -> None:
    """A claimed row that must not go now: cancelled, skipped, failed or held."""
    message, patient = _objects(session, message_id)
    reason = verdict.reason or verdict.action.value
    log.info(kv("dispatch.not_sent", message_id=message_id, verdict=verdict.action.value))
    if verdict.action == Action.HOLD:
        assert verdict.until is not None
        release(session, message, at=verdict.until, reason=reason, now=now)
    elif verdict.action == Action.FAIL:
        outcome.fail(session, message, reason=reason, patient=patient, now=now)
    else:
        transition(session, message, verdict.status, reason=reason, now=now)


def _fail(session: Session, message_id: int, reason: str, *, now: datetime) -> None:
    message, patient = _objects(session, message_id)
    outcome.fail(session, message, reason=reason, patient=patient, now=now)


def _objects(session: Session, message_id: int) -> tuple[Message, Patient | None]:
    """The row (and its patient) as ORM objects, to be changed: the rare paths."""
    message = session.get(Message, message_id)
    assert message is not None
    patient = session.get(Patient, message.patient_id) if message.patient_id else None
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
