"""From patients and a plan to planned sends, with the database read once per batch.

Schedules are computed in pure Python (`schedule`, `limits`, `scheduling.pace`); the
only queries are the patients' live messages (for merges and the daily cap) and the
clinic's SMS already queued at the same instants (for pacing).

Pacing: SMS rows sharing a due instant in one clinic are spread k/rate seconds apart in
`next_attempt_at`, counting what is already queued for that instant (one GROUP BY per
batch), then moved out of quiet hours again if the spread ran into them. Email is not
paced: the sender rate is a carrier limit on the SMS sender number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from service.db.models import Clinic
from service.domain import Channel, MessageStatus
from service.enrollment import rows as q
from service.enrollment.limits import apply_limits
from service.enrollment.queued import QueuedSms
from service.enrollment.schedule import PatientLike, Planned, Recipient, Windows, plan_schedule
from service.plans.model import Plan
from service.scheduling import QuietHours, next_allowed, pace, window_starts_after
from service.senders import DEFAULT_RATES, find, kind_of, own_address


@dataclass
class Pending:
    """One enrolment being planned: the patient, the anchor, and what comes out."""

    patient: PatientLike
    procedure_at: datetime
    recipient: Recipient
    enrollment_id: int = 0
    planned: list[Planned] = field(default_factory=list)


def recipient_for(patient: PatientLike) -> Recipient:
    return Recipient(
        tz=ZoneInfo(patient.timezone),
        has_phone=bool(patient.phone),
        has_email=bool(patient.email),
        sms_blocked=_sms_blocked(patient),
        email_blocked=_email_blocked(patient),
    )


def _sms_blocked(patient: PatientLike) -> str | None:
    if not patient.phone:
        return "no phone number"
    if not patient.phone_can_sms:
        return "the phone number is a landline"
    if patient.sms_opted_out_at is not None:
        return "the patient opted out of SMS"
    return None if patient.sms_consent_at is not None else "no SMS consent"


def _email_blocked(patient: PatientLike) -> str | None:
    if not patient.email:
        return "no email address"
    if patient.email_opted_out_at is not None:
        return "the patient opted out of email"
    return None if patient.email_consent_at is not None else "no email consent"


def hold_settings(session: Session, clinic: Clinic) -> None:
    """Read the clinic's settings as committed and keep them until this transaction ends
    (FOR SHARE on PostgreSQL): a settings change (which locks the clinic FOR UPDATE and
    re-plans) then waits for this enrolment to commit and re-plans its rows too, or this
    enrolment waits for the change and plans with the new settings."""
    query = select(Clinic).where(Clinic.id == clinic.id).with_for_update(read=True)
    session.exec(query.execution_options(populate_existing=True)).one()


def windows_for(clinic: Clinic) -> Windows:
    return Windows(
        quiet=QuietHours(clinic.quiet_start, clinic.quiet_end),
        night=QuietHours(clinic.night_start, clinic.night_end),
    )


def compute(
    session: Session,
    *,
    clinic: Clinic,
    plan: Plan,
    pendings: list[Pending],
    now: datetime,
    daily_cap: int,
    exclude: frozenset[int] = frozenset(),
    queued: QueuedSms | None = None,
) -> None:
    """Fill each pending's planned sends: schedule, limits, pacing (reads only).
    `queued`: the run's tally of queued SMS (an import's), counting the rows planned
    here as queued; a fresh one otherwise."""
    windows = windows_for(clinic)
    live = q.live_messages(
        session,
        patient_ids=[p.patient.id for p in pendings],  # type: ignore[misc]
        since=now - timedelta(days=1),
        exclude=exclude,
    )
    # A schedule depends only on (procedure time, recipient) within one call, and many
    # patients share both (a clinic operates in slots): computed once per pair, and with
    # the limits applied once too for patients with no other live messages (the usual
    # case). The Planned values are then shared between pendings: never mutated.
    schedules: dict[tuple[datetime, Recipient], list[Planned]] = {}
    alone: dict[tuple[datetime, Recipient], list[Planned]] = {}
    for pending in pendings:
        key = (pending.procedure_at, pending.recipient)
        existing = live.get(pending.patient.id)  # type: ignore[arg-type]
        if not existing and key in alone:
            pending.planned = list(alone[key])
            continue
        planned = schedules.get(key)
        if planned is None:
            planned = schedules[key] = plan_schedule(
                plan,
                procedure_at=pending.procedure_at,
                recipient=pending.recipient,
                windows=windows,
                now=now,
            )
        limited = apply_limits(
            planned,
            plan_key=plan.key,
            existing=existing or [],
            tz=pending.recipient.tz,
            cap=daily_cap,
        )
        if not existing:
            alone[key] = limited
        pending.planned = list(limited)
    _pace(session, clinic, pendings, now, windows, exclude, queued or QueuedSms())


def _pace(
    session: Session,
    clinic: Clinic,
    pendings: list[Pending],
    now: datetime,
    windows: Windows,
    exclude: frozenset[int],
    queued: QueuedSms,
) -> None:
    spots = [
        (pending, i)
        for pending in pendings
        for i, pl in enumerate(pending.planned)
        if pl.channel == Channel.SMS and pl.status == MessageStatus.SCHEDULED
    ]
    rate = _sms_rate(session, clinic)
    if rate is None or not spots:
        return
    due = [pending.planned[i].next_attempt_at for pending, i in spots]
    already = queued.at(
        session,
        clinic_id=clinic.id,  # type: ignore[arg-type]
        due=due,
        since=now,
        exclude=exclude,
    )
    paced = pace(due, rate_per_second=rate, already=already)
    queued.added((pl.channel, pl.status, pl.due_at) for pl in (p.planned[i] for p, i in spots))
    for (pending, i), before, after in zip(spots, due, paced, strict=True):
        if after == before:
            continue
        planned = pending.planned[i]
        window = windows.for_priority(planned.priority, planned.night)
        at = _still_allowed(before, after, pending.recipient.tz, window)
        pending.planned[i] = planned.at(at)  # a copy: Planned values may be shared


def _sms_rate(session: Session, clinic: Clinic) -> float | None:
    """The clinic's own number's rate; a long code's for the service's default sender."""
    address = own_address(clinic, Channel.SMS)
    sender = find(session, Channel.SMS, address) if address else None
    if sender is None:
        return DEFAULT_RATES[kind_of(Channel.SMS, address or "")]
    return sender.rate_per_second


def _still_allowed(
    before: datetime, after: datetime, tz: ZoneInfo, window: QuietHours | None
) -> datetime:
    """`after` unless spreading from the allowed `before` ran into the quiet window."""
    if window is None or window.start == window.end:
        return after
    if after < window_starts_after(before, tz, window):  # cached per shared instant
        return after
    return next_allowed(after, tz=tz, window=window)
