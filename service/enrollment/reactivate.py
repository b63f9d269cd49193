"""Resume: a paused enrolment continues; a cancelled one is planned again from now.

A patient who stopped texts and later asks for them again, or a plan cancelled by
mistake, should not need a new enrolment. Resuming a cancelled enrolment plans every
step it cancelled again from now with the enrolment's own schedule code: a step whose
time has passed stays cancelled (never a burst of stale advice), and the patient's
current opt-outs and consents decide the channels.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from service.db.models import Clinic, Enrollment, Patient
from service.domain import EnrollmentStatus
from service.enrollment.errors import EnrolError
from service.enrollment.operations import audit, resume_paused
from service.enrollment.sms_loss import revive
from service.plans.model import PlanError


def resume(
    session: Session,
    *,
    enrollment: Enrollment,
    now: datetime,
    actor: str,
    reason: str | None = None,
    daily_cap: int = 3,
) -> int:
    """Continue the plan. Paused: what fell due while paused is skipped (returns how many).
    Cancelled: the steps still ahead are planned again (returns how many)."""
    if enrollment.status != EnrollmentStatus.CANCELLED:
        return resume_paused(session, enrollment=enrollment, now=now, actor=actor, reason=reason)
    clinic = session.get(Clinic, enrollment.clinic_id)
    patient = session.get(Patient, enrollment.patient_id)
    assert clinic is not None and patient is not None  # foreign keys
    try:
        revived, stale = revive(session, clinic=clinic, enrollment=enrollment, patient=patient,
                                now=now, daily_cap=daily_cap)  # fmt: skip
    except PlanError as exc:  # the pinned copy cannot be read: say so, change nothing
        raise EnrolError("plan", str(exc), conflict=True) from None
    if not revived:
        raise EnrolError("status", "nothing left to send: every step of this plan is in the past",
                         conflict=True)  # fmt: skip
    enrollment.status, enrollment.status_reason = EnrollmentStatus.ACTIVE, reason
    enrollment.updated_at = now
    session.add(enrollment)
    audit(session, enrollment, action="enrollment.reactivate", actor=actor, reason=reason,
          detail={"planned_again": revived, "past": stale})  # fmt: skip
    return revived
