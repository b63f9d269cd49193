"""When texts can no longer reach a patient, and when they can again.

Texts are lost after STOP, a carrier opt-out, or a number the carrier says cannot take
texts (landline, no such number). Every pending text is cancelled with the reason; the
safety messages (red-flag reminders, safety advice, the catch-up) and steps whose plan
falls back to email go on by email when the patient can receive it. The enrolment stays
active: the plan goes on by email, and texts can come back.

Texts come back after START: each active enrolment's texts cancelled by the loss are
planned again from now with the enrolment's own schedule code (a step whose time has
passed stays cancelled - never a burst of stale advice), and the email copies queued in
their place are cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from service.db.models import Clinic, Enrollment, Message, Patient
from service.domain import Channel, EnrollmentStatus, MessageKind, MessageStatus, Priority
from service.enrollment.apply import add_planned_row
from service.enrollment.coming import Coming, coming
from service.enrollment.planning import Pending, compute, recipient_for
from service.enrollment.rows import LIVE
from service.fallback import queue_email_copy
from service.logs import kv
from service.outbox import transition
from service.plans.model import PlanError
from service.plans.store import load_pinned

log = logging.getLogger(__name__)

SMS_LOST = "texts stopped"  # reason prefix of the texts a loss cancelled
BY_EMAIL = "by-email:"  # dedupe-key prefix of their email copies
_PATIENT_KINDS = (MessageKind.PLAN.value, MessageKind.CATCH_UP.value, MessageKind.FALLBACK.value)
_OPEN = (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.PAUSED.value)


@dataclass
class SmsLoss:
    cancelled: int = 0  # pending texts cancelled
    safety_by_email: int = 0  # safety messages that go on by email
    others_by_email: int = 0  # plan steps that fall back to email
    safety_lost: int = 0  # safety messages that can no longer reach the patient


def lose_sms(
    session: Session, *, patient: Patient, why: str, now: datetime, actor: str = "system"
) -> SmsLoss:
    """Cancel the patient's pending texts; safety ones (and email-fallback steps) by email."""
    query = (
        select(Message)
        .where(
            Message.patient_id == patient.id,
            Message.channel == Channel.SMS.value,
            Message.status == MessageStatus.SCHEDULED.value,
            col(Message.kind).in_(_PATIENT_KINDS),
        )
        .order_by(col(Message.id))
        .with_for_update()  # a concurrent claim waits, then finds them cancelled
    )
    loss = SmsLoss()
    for row in session.exec(query).all():
        transition(session, row, MessageStatus.CANCELLED, reason=f"{SMS_LOST}: {why}",
                   now=now, actor=actor)  # fmt: skip
        loss.cancelled += 1
        _go_by_email(session, row, patient, why=why, now=now, loss=loss)
    return loss


def _go_by_email(
    session: Session, row: Message, patient: Patient, *, why: str, now: datetime, loss: SmsLoss
) -> None:
    safety = row.priority == Priority.SAFETY or row.kind == MessageKind.CATCH_UP
    if not safety and row.fallback_channel != Channel.EMAIL:
        return
    going = _email_row_planned(session, row) or queue_email_copy(
        session, row, patient, now=now, dedupe_key=f"{BY_EMAIL}{row.id}",
        reason=f"by email instead of a text ({why})",
    )  # fmt: skip
    if going is None:
        loss.safety_lost += safety
    elif safety:
        loss.safety_by_email += 1
    else:
        loss.others_by_email += 1


def _email_row_planned(session: Session, row: Message) -> Message | None:
    """The same step's own email row (a step sent on both channels), still live."""
    if row.kind != MessageKind.PLAN or row.enrollment_id is None:
        return None
    query = select(Message).where(
        Message.enrollment_id == row.enrollment_id,
        Message.step_key == row.step_key,
        Message.occurrence == row.occurrence,
        Message.channel == Channel.EMAIL.value,
        col(Message.status).in_([s.value for s in LIVE]),
    )
    return session.exec(query).first()


@dataclass
class SmsBack:
    revived: int = 0  # texts planned again
    stale: int = 0  # texts whose time passed while texts were off: not sent
    coming: Coming = field(default_factory=lambda: Coming(0, None))
    plan_stopped: bool = False  # no open enrolment: staff cancelled the plan


def regain_sms(
    session: Session, *, clinic: Clinic, patient: Patient, now: datetime, daily_cap: int = 3
) -> SmsBack:
    """After START: plan the texts the loss cancelled again, from now."""
    open_ones = _enrollments(session, patient, _OPEN)
    back = SmsBack(plan_stopped=not open_ones and bool(_enrollments(session, patient, None)))
    for enrollment in open_ones:
        try:
            revived, stale = revive(session, clinic=clinic, enrollment=enrollment,
                                    patient=patient, now=now, daily_cap=daily_cap,
                                    only=_lost_text)  # fmt: skip
        except PlanError:  # never lose the reply over a plan that cannot be read
            log.exception(kv("enrollment.regain_failed", enrollment_id=enrollment.id))
            continue
        back.revived += revived
        back.stale += stale
    back.coming = still_coming(session, [e.id for e in open_ones if e.id is not None], now=now)
    return back


def _enrollments(
    session: Session, patient: Patient, statuses: tuple[str, ...] | None
) -> list[Enrollment]:
    query = select(Enrollment).where(Enrollment.patient_id == patient.id)
    if statuses is not None:
        query = query.where(col(Enrollment.status).in_(statuses))
    return list(session.exec(query.order_by(col(Enrollment.id))))


def _lost_text(row: Message) -> bool:
    return row.channel == Channel.SMS and (row.status_reason or "").startswith(SMS_LOST)


def revive(
    session: Session,
    *,
    clinic: Clinic,
    enrollment: Enrollment,
    patient: Patient,
    now: datetime,
    daily_cap: int,
    only: Callable[[Message], bool] | None = None,
) -> tuple[int, int]:
    """Plan again, from now, the enrolment's cancelled rows (those `only` accepts, else
    all) that the plan still wants; returns (planned again, stale). Their email copies
    still waiting are cancelled: the row itself goes instead."""
    plan = load_pinned(session, enrollment.plan_key, enrollment.plan_version)
    pending = Pending(patient, enrollment.procedure_at, recipient_for(patient), enrollment.id or 0)
    compute(session, clinic=clinic, plan=plan, pendings=[pending], now=now, daily_cap=daily_cap,
            exclude=frozenset({pending.enrollment_id}))  # fmt: skip
    rows = _rows_by_key(session, enrollment)
    revived = stale = 0
    for planned in pending.planned:
        same = rows.get((planned.step_key, planned.occurrence, planned.channel.value), [])
        row = same[-1] if same else None
        if row is None or row.status != MessageStatus.CANCELLED or row.sent_at is not None:
            continue
        if only is not None and not only(row):
            continue
        if planned.status != MessageStatus.SCHEDULED or _copy_went(session, row):
            stale += 1
            continue
        add_planned_row(session, pending, planned, suffix=f":r{len(same)}", now=now)
        _cancel_copy(session, row, now)
        revived += 1
    return revived, stale


def _rows_by_key(session: Session, enrollment: Enrollment) -> dict[tuple, list[Message]]:
    """The enrolment's plan rows per (step, occurrence, channel), oldest first."""
    query = select(Message).where(
        Message.enrollment_id == enrollment.id, Message.kind == MessageKind.PLAN.value
    )
    found: dict[tuple, list[Message]] = {}
    for row in session.exec(query.order_by(col(Message.id))):
        found.setdefault((row.step_key, row.occurrence, row.channel), []).append(row)
    return found


def _copy(session: Session, row: Message) -> Message | None:
    query = select(Message).where(Message.dedupe_key == f"{BY_EMAIL}{row.id}")
    return session.exec(query).first()


def _copy_went(session: Session, row: Message) -> bool:
    """Its email copy already left: the patient has this message."""
    copy = _copy(session, row)
    return copy is not None and copy.status not in (MessageStatus.SCHEDULED,
                                                    MessageStatus.CANCELLED)  # fmt: skip


def _cancel_copy(session: Session, row: Message, now: datetime) -> None:
    copy = _copy(session, row)
    if copy is not None and copy.status == MessageStatus.SCHEDULED:
        transition(session, copy, MessageStatus.CANCELLED, now=now, actor="system",
                   reason="texts are back: the text goes instead")  # fmt: skip


def still_coming(session: Session, enrollment_ids: list[int], *, now: datetime) -> Coming:
    """The plan steps still scheduled for these enrolments and still valid at `now`."""
    if not enrollment_ids:
        return Coming(0, None)
    query = select(Message.step_key, Message.occurrence, Message.next_attempt_at).where(
        col(Message.enrollment_id).in_(enrollment_ids),
        Message.status == MessageStatus.SCHEDULED.value,
        col(Message.kind).in_([MessageKind.PLAN.value, MessageKind.FALLBACK.value]),
        col(Message.step_key).is_not(None),
        col(Message.valid_until).is_(None) | (col(Message.valid_until) > now),
    )
    return coming(session.exec(query).all())
