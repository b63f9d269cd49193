"""Pause, resume and cancel: status changes with reasons and audit entries.

Every change goes through `outbox.transition` (one event per message) and
`record_audit` (who and why). Pausing does not touch the rows (the dispatcher does not
send for a paused enrolment); resuming skips what fell due while paused with the
reason "paused" instead of replaying it as a burst.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from service.audit import record_audit
from service.db.models import Enrollment, Message
from service.domain import ActorType, EnrollmentStatus, MessageStatus
from service.enrollment.errors import EnrolError
from service.outbox import transition


def audit(
    session: Session,
    enrollment: Enrollment,
    *,
    action: str,
    actor: str,
    reason: str | None,
    detail: dict[str, object] | None = None,
) -> None:
    record_audit(
        session,
        actor_type=ActorType.SYSTEM if actor == "system" else ActorType.USER,
        actor=actor,
        action=action,
        entity_type="enrollment",
        entity_id=enrollment.id,
        clinic_id=enrollment.clinic_id,
        reason=reason,
        detail=detail,
    )


def pending_rows(session: Session, enrollment: Enrollment) -> list[Message]:
    query = (
        select(Message)
        .where(Message.enrollment_id == enrollment.id, Message.status == MessageStatus.SCHEDULED)
        .order_by(col(Message.due_at), col(Message.id))
    )
    return list(session.exec(query))


def _set_status(
    enrollment: Enrollment, status: EnrollmentStatus, *, reason: str | None, now: datetime
) -> None:
    enrollment.status = status
    enrollment.status_reason = reason
    enrollment.updated_at = now


def pause(
    session: Session,
    *,
    enrollment: Enrollment,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> Enrollment:
    """Hold the enrolment; pausing a paused one is a no-op."""
    if enrollment.status == EnrollmentStatus.PAUSED:
        return enrollment
    if enrollment.status != EnrollmentStatus.ACTIVE:
        raise EnrolError("status", f"cannot pause a {enrollment.status} enrolment", conflict=True)
    _set_status(enrollment, EnrollmentStatus.PAUSED, reason=reason, now=now)
    enrollment.paused_at = now
    session.add(enrollment)
    audit(session, enrollment, action="enrollment.pause", actor=actor, reason=reason)
    return enrollment


def resume_paused(
    session: Session,
    *,
    enrollment: Enrollment,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> int:
    """Continue a paused plan; what fell due while paused is skipped. Returns how many."""
    if enrollment.status == EnrollmentStatus.ACTIVE:
        return 0
    if enrollment.status != EnrollmentStatus.PAUSED:
        raise EnrolError("status", f"cannot resume a {enrollment.status} enrolment", conflict=True)
    since = enrollment.paused_at or now
    # By due_at, not next_attempt_at: the dispatcher keeps pushing a paused row's next
    # attempt forward, but what matters is whether the plan wanted it during the pause.
    missed = [m for m in pending_rows(session, enrollment) if since <= m.due_at < now]
    for message in missed:
        transition(
            session,
            message,
            MessageStatus.SKIPPED,
            now=now,
            actor=actor,
            reason=f"paused: fell due while the enrolment was paused since {since:%Y-%m-%d %H:%M}Z",
        )
    _set_status(enrollment, EnrollmentStatus.ACTIVE, reason=reason, now=now)
    enrollment.paused_at = None
    session.add(enrollment)
    audit(
        session,
        enrollment,
        action="enrollment.resume",
        actor=actor,
        reason=reason,
        detail={"skipped": len(missed)},
    )
    return len(missed)


def cancel(
    session: Session,
    *,
    enrollment: Enrollment,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> int:
    """Stop the plan: every pending message is cancelled with the reason. Returns how many."""
    if enrollment.status == EnrollmentStatus.CANCELLED:
        return 0
    if enrollment.status == EnrollmentStatus.COMPLETED:
        raise EnrolError("status", "cannot cancel a completed enrolment", conflict=True)
    rows = pending_rows(session, enrollment)
    why = f"enrolment cancelled: {reason}" if reason else "enrolment cancelled"
    for message in rows:
        transition(session, message, MessageStatus.CANCELLED, reason=why, now=now, actor=actor)
    _set_status(enrollment, EnrollmentStatus.CANCELLED, reason=reason, now=now)
    session.add(enrollment)
    audit(
        session,
        enrollment,
        action="enrollment.cancel",
        actor=actor,
        reason=reason,
        detail={"cancelled_messages": len(rows)},
    )
    return len(rows)
