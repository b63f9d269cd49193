"""Reschedule: a new procedure time moves every unsent message with the new anchor.

Unsent rows are recomputed exactly as a fresh enrolment at the new anchor would plan
them (same schedule, limits and pacing code, ignoring the enrolment's own old rows) and
updated in place; sent rows stay as history. A row already closed without being sent
(skipped as stale, merged, capped) that the new anchor makes valid again is planned
afresh as a new row (`<dedupe key>:r<n>`), because history is append-only; rows
skipped because the enrolment was paused stay skipped.

Concurrent dispatch: the clinic's settings are held (`planning.hold_settings`), the
enrolment row is locked, then its scheduled rows
(`lock_plan_rows`, FOR UPDATE in id order), so a claim in progress finishes first and
its rows are then seen as `sending` and left alone, and a claim that comes later skips
the locked rows (SKIP LOCKED). Only rows this transaction locked are moved; a row that
became scheduled meanwhile (a released claim) keeps its time. The same functions
re-plan a clinic after its settings change (`service.enrollment.replan`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from service.db.models import Clinic, Enrollment, Message, MessageEvent, Patient
from service.db.queries import one_of
from service.domain import EnrollmentStatus, MessageKind, MessageStatus
from service.enrollment import rows as q
from service.enrollment.catch_up import queue_catch_up
from service.enrollment.core import check_procedure_at
from service.enrollment.errors import EnrolError
from service.enrollment.operations import audit
from service.enrollment.planning import Pending, compute, hold_settings, recipient_for
from service.enrollment.schedule import Planned
from service.outbox import transition
from service.plans.model import Plan
from service.rendering import Renderer

_CLOSED_UNSENT = (MessageStatus.SKIPPED, MessageStatus.CANCELLED)


@dataclass
class RescheduleResult:
    moved: int = 0
    added: int = 0
    skipped: int = 0
    cancelled: int = 0
    catch_up_id: int | None = None


def reschedule(
    session: Session,
    *,
    clinic: Clinic,
    enrollment: Enrollment,
    plan: Plan,
    procedure_at: datetime,
    now: datetime,
    actor: str,
    daily_cap: int = 3,
    renderer: Renderer | None = None,
    reason: str | None = None,
) -> RescheduleResult:
    """Move the enrolment to `procedure_at` (plan = its pinned version)."""
    procedure_at = check_procedure_at(procedure_at, now=now)
    hold_settings(session, clinic)  # the settings a concurrent change of them re-plans with
    session.refresh(enrollment, with_for_update=True)  # one change of an enrolment at a time
    if enrollment.status in (EnrollmentStatus.CANCELLED, EnrollmentStatus.COMPLETED):
        raise EnrolError(
            "status", f"cannot reschedule a {enrollment.status} enrolment", conflict=True
        )
    patient = session.get(Patient, enrollment.patient_id)
    assert patient is not None  # enforced by the foreign key
    pending = Pending(patient, procedure_at, recipient_for(patient), enrollment.id or 0)
    compute(
        session,
        clinic=clinic,
        plan=plan,
        pendings=[pending],
        now=now,
        daily_cap=daily_cap,
        exclude=frozenset({pending.enrollment_id}),
    )
    rows, movable = lock_plan_rows(session, [pending.enrollment_id])
    result = apply_planned(session, rows.get(pending.enrollment_id, []), movable, pending,
                           now=now, actor=actor, label="rescheduled")  # fmt: skip
    if any(p.late for p in pending.planned) and not _has_catch_up(session, enrollment):
        result.catch_up_id = queue_catch_up(
            session,
            clinic=clinic,
            plan=plan,
            enrollment_id=pending.enrollment_id,
            procedure_at=procedure_at,
            patient=patient,
            planned=pending.planned,
            now=now,
            renderer=renderer,
        )
    old = enrollment.procedure_at
    enrollment.procedure_at = procedure_at
    enrollment.updated_at = now
    session.add(enrollment)
    audit(
        session,
        enrollment,
        action="enrollment.reschedule",
        actor=actor,
        reason=reason,
        detail={"from": old.isoformat(), "to": procedure_at.isoformat(), **result.__dict__},
    )
    return result


def lock_plan_rows(
    session: Session, enrollment_ids: Sequence[int]
) -> tuple[dict[int, list[Message]], set[int]]:
    """The enrolments' plan rows in id order, fresh from the database, and the ids of the
    scheduled ones, now locked until the transaction ends (only those may be moved)."""
    movable: set[int] = set()
    rows: dict[int, list[Message]] = {}
    for chunk in q.chunks(sorted(enrollment_ids)):
        mine = one_of(session, col(Message.enrollment_id), chunk)
        plan = col(Message.kind) == MessageKind.PLAN.value
        scheduled = col(Message.status) == MessageStatus.SCHEDULED.value
        locking = select(col(Message.id)).where(mine, plan, scheduled).order_by(col(Message.id))
        movable.update(i for i in session.exec(locking.with_for_update()) if i is not None)
        query = select(Message).where(mine, plan).order_by(col(Message.id))
        for row in session.exec(query.execution_options(populate_existing=True)):
            rows.setdefault(row.enrollment_id or 0, []).append(row)
    return rows, movable


def apply_planned(
    session: Session,
    rows: list[Message],
    movable: set[int],
    pending: Pending,
    *,
    now: datetime,
    actor: str,
    label: str,
) -> RescheduleResult:
    """Make an enrolment's rows (`lock_plan_rows`) say what `pending` planned: locked
    scheduled rows move (or close), closed unsent ones may come back as new rows, what
    is no longer planned is cancelled; anything else is left as it is. `label` starts
    the reasons written ("rescheduled", "re-planned")."""
    latest: dict[tuple[str | None, int, str], Message] = {}
    counts: dict[tuple[str | None, int, str], int] = {}
    for row in rows:
        key = (row.step_key, row.occurrence, row.channel)
        latest[key] = row
        counts[key] = counts.get(key, 0) + 1
    result = RescheduleResult()
    planned_keys = set()
    for planned in pending.planned:
        key = (planned.step_key, planned.occurrence, planned.channel.value)
        planned_keys.add(key)
        current = latest.get(key)
        if current is not None and current.id in movable:
            _move(session, current, planned, now=now, actor=actor, label=label, result=result)
        elif current is None or _revivable(current, planned):
            suffix = f":r{counts[key]}" if current is not None else ""
            _add(session, pending, planned, suffix=suffix, now=now, result=result)
    for key, row in latest.items():
        if key not in planned_keys and row.id in movable:
            transition(
                session,
                row,
                MessageStatus.CANCELLED,
                now=now,
                actor=actor,
                reason=f"{label}: no longer planned for this patient",
            )
            result.cancelled += 1
    return result


def _revivable(current: Message, planned: Planned) -> bool:
    closed = current.status in _CLOSED_UNSENT and current.sent_at is None
    paused = (current.status_reason or "").startswith("paused")
    return closed and not paused and planned.status == MessageStatus.SCHEDULED


def _move(
    session: Session,
    row: Message,
    planned: Planned,
    *,
    now: datetime,
    actor: str,
    label: str,
    result: RescheduleResult,
) -> None:
    row.due_at = planned.due_at
    row.next_attempt_at = planned.next_attempt_at
    row.valid_until = planned.valid_until
    row.fallback_channel = planned.fallback.value if planned.fallback else None
    row.updated_at = now
    if planned.status == MessageStatus.SKIPPED:
        transition(
            session,
            row,
            MessageStatus.SKIPPED,
            now=now,
            actor=actor,
            reason=f"{label}: {planned.reason}",
        )
        result.skipped += 1
        return
    row.status_reason = planned.reason or label
    session.add(row)
    result.moved += 1


def _add(
    session: Session,
    pending: Pending,
    planned: Planned,
    *,
    suffix: str,
    now: datetime,
    result: RescheduleResult,
) -> None:
    add_planned_row(session, pending, planned, suffix=suffix, now=now)
    if planned.status == MessageStatus.SKIPPED:
        result.skipped += 1
    else:
        result.added += 1


def add_planned_row(
    session: Session, pending: Pending, planned: Planned, *, suffix: str, now: datetime
) -> Message:
    """A new row for a planned send whose earlier row is closed (history is append-only:
    the new one's dedupe key carries `suffix`); a row born skipped gets its event."""
    values = q.message_row(
        planned,
        clinic_id=pending.patient.clinic_id,
        patient_id=pending.patient.id,  # type: ignore[arg-type]
        enrollment_id=pending.enrollment_id,
        language=pending.patient.language,
        now=now,
    )
    values["dedupe_key"] = str(values["dedupe_key"]) + suffix
    row = Message(**values)
    session.add(row)
    session.flush()
    if planned.status == MessageStatus.SKIPPED:
        session.add(
            MessageEvent(
                message_id=row.id,  # type: ignore[arg-type]
                at=now,
                to_status=row.status,
                reason=planned.reason,
                actor="enrolment",
            )
        )
    return row


def _has_catch_up(session: Session, enrollment: Enrollment) -> bool:
    query = select(Message.id).where(
        Message.enrollment_id == enrollment.id, Message.kind == MessageKind.CATCH_UP.value
    )
    return session.exec(query).first() is not None
