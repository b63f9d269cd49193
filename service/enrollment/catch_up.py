"""Late enrolment: one catch-up message instead of a burst, and events for skipped rows.

The catch-up says what is true: that the early tips are behind the patient, when the
next message is due (or that nothing more is planned, with the clinic's number), and
the warning signs to call about.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlmodel import Session, col

from service.config import DEFAULT_TEMPLATES_DIR
from service.db.models import Clinic, Message, MessageEvent
from service.db.queries import one_of
from service.domain import Channel, MessageKind, MessageStatus, Priority
from service.enrollment.coming import coming
from service.enrollment.errors import EnrolError
from service.enrollment.queued import QueuedSms
from service.enrollment.rows import chunks, table
from service.enrollment.schedule import PatientLike, Planned
from service.logs import kv
from service.outbox import queue_message
from service.plans.model import Plan
from service.rendering import Rendered, Renderer, RenderError, message_context
from service.scheduling import QuietHours, local_date, next_allowed

log = logging.getLogger(__name__)
CATCH_UP_VALID_FOR = timedelta(days=2)
ACTOR = "enrolment"


def record_creation_events(session: Session, *, dedupe_keys: Sequence[str], now: datetime) -> None:
    """A row born skipped still gets its event, so the history says why it never went.

    `dedupe_keys`: the rows just inserted skipped, looked up by their unique key. (By
    enrolment and status, SQLite without statistics walked the (status, due_at) index:
    every skipped message of the database, per batch.)
    """
    events = []
    for chunk in chunks(dedupe_keys):
        query = select(col(Message.id), col(Message.status_reason)).where(
            one_of(session, col(Message.dedupe_key), chunk)
        )
        events += [
            {
                "message_id": mid,
                "at": now,
                "from_status": None,
                "to_status": MessageStatus.SKIPPED.value,
                "reason": reason,
                "actor": ACTOR,
            }
            for mid, reason in session.execute(query)
        ]
    if events:
        session.execute(insert(table(MessageEvent)), events)


def catch_up_channel(patient: PatientLike) -> Channel | None:
    sms_ok = patient.phone and patient.phone_can_sms and patient.sms_consent_at
    if sms_ok and patient.sms_opted_out_at is None:
        return Channel.SMS
    if patient.email and patient.email_consent_at and patient.email_opted_out_at is None:
        return Channel.EMAIL
    return None


def queue_catch_up(
    session: Session,
    *,
    clinic: Clinic,
    plan: Plan,
    enrollment_id: int,
    procedure_at: datetime,
    patient: PatientLike,
    planned: Sequence[Planned],
    now: datetime,
    renderer: Renderer | None,
    queued: QueuedSms | None = None,
) -> int | None:
    """Queue the one catch-up message (what was skipped, what is still coming, the red
    flags); its id. It goes when the first skipped step would have gone, or now if that
    has passed. `queued`: the run's tally of queued SMS, told about it."""
    channel = catch_up_channel(patient)
    if channel is None:
        return None
    tz = ZoneInfo(patient.timezone)
    first_late = min((p.due_at for p in planned if p.late), default=now)
    # Safety content: it may use the evening but never the night.
    night = QuietHours(clinic.night_start, clinic.night_end)
    at = next_allowed(max(now, first_late), tz=tz, window=night)
    skipped = sum(1 for p in planned if p.late)
    still = coming(
        (p.step_key, p.occurrence, p.next_attempt_at)
        for p in planned
        if p.status == MessageStatus.SCHEDULED
    )
    rendered = _render(renderer, clinic, plan, procedure_at, patient, channel, at, skipped,
                       still.context(tz, patient.language))  # fmt: skip
    message = queue_message(
        session,
        clinic_id=clinic.id,  # type: ignore[arg-type]
        channel=channel.value,
        body=rendered.text,
        subject=rendered.subject,
        body_html=rendered.html,
        segments=rendered.segments,
        patient_id=patient.id,
        kind=MessageKind.CATCH_UP,
        priority=Priority.SAFETY,
        language=patient.language,
        due_at=at,
        valid_until=at + CATCH_UP_VALID_FOR,
        dedupe_key=f"enr:{enrollment_id}:catch_up:{channel.value}",
        enrollment_id=enrollment_id,
        reason=f"catch-up after late enrolment: {skipped} stale step(s) skipped",
    )
    log.info(kv("enrollment.catch_up", enrollment_id=enrollment_id, message_id=message.id))
    if queued is not None:
        queued.added([(message.channel, message.status, message.due_at)])
    return message.id


def _render(
    renderer: Renderer | None,
    clinic: Clinic,
    plan: Plan,
    procedure_at: datetime,
    patient: PatientLike,
    channel: Channel,
    now: datetime,
    skipped: int,
    still: dict[str, object],
) -> Rendered:
    tz = ZoneInfo(patient.timezone)
    flags = plan.red_flags.get(patient.language) or plan.red_flags.get("en")
    extra: dict[str, object] = {
        "plan_title": plan.title,
        "procedure": plan.procedure,
        "days_since": (local_date(now, tz) - local_date(procedure_at, tz)).days,
        "skipped_count": skipped,
        "red_flags": list(flags.items) if flags else [],
        "red_flag_routes": flags.groups if flags else (),
        **still,
    }
    context = message_context(
        patient_first_name=patient.first_name,
        clinic_name=clinic.name,
        clinic_phone=clinic.contact_phone,
        emergency_phone=clinic.emergency_phone,
        procedure_at_local=procedure_at.astimezone(tz),
        language=patient.language,
        extra=extra,
        patient_phone=patient.phone,
        clinic_24h=clinic.phone_24h,
    )
    renderer = renderer or Renderer(DEFAULT_TEMPLATES_DIR)
    try:
        # The plan's signs, each with its route (emergency number, call now, call today).
        context["red_flags_summary"] = renderer.red_flags_summary(
            plan=plan, language=patient.language, context=context
        )
        return renderer.render_system(
            name="catch_up", channel=channel, language=patient.language, context=context
        )
    except RenderError as exc:
        raise EnrolError("plan", f"the catch-up message cannot be rendered: {exc}") from None
