"""Reschedule: a new procedure time moves every unsent message with the new anchor.

Unsent rows are recomputed exactly as a fresh enrolment at the new anchor would plan
them (same schedule, limits and pacing code, ignoring the enrolment's own old rows) and
updated in place; sent rows stay as history. A row already closed without being sent
(skipped as stale, merged, capped) that the new anchor makes valid again is planned
afresh as a new row (`<dedupe key>:r<n>`), because history is append-only; rows
skipped because the enrolment was paused stay skipped.

Concurrent changes: the clinic's settings are held (`planning.hold_settings`) and the
enrolment row locked; the rows themselves are locked and changed by
`service.enrollment.apply`, which a clinic re-plan (`service.enrollment.replan`) shares.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from service.db.models import Clinic, Enrollment, Message, Patient
from service.domain import EnrollmentStatus, MessageKind
from service.enrollment.apply import (
    RescheduleResult,
    apply_planned,
    lock_plan_rows,
    write_moves,
)
from service.enrollment.catch_up import queue_catch_up
from service.enrollment.core import check_procedure_at
from service.enrollment.errors import EnrolError
from service.enrollment.operations import audit
from service.enrollment.planning import Pending, compute, hold_settings, recipient_for
from service.plans.model import Plan
from service.rendering import Renderer

__all__ = ["RescheduleResult", "reschedule"]


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
    result = RescheduleResult()
    apply_planned(session, rows.get(pending.enrollment_id, []), movable, pending, now=now,
                  actor=actor, label="rescheduled", result=result)  # fmt: skip
    write_moves(session, result)
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
        detail={"from": old.isoformat(), "to": procedure_at.isoformat(), **result.counts()},
    )
    return result


def _has_catch_up(session: Session, enrollment: Enrollment) -> bool:
    query = select(Message.id).where(
        Message.enrollment_id == enrollment.id, Message.kind == MessageKind.CATCH_UP.value
    )
    return session.exec(query).first() is not None
