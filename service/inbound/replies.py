"""Auto-replies to patients: rendered system templates queued as outbound rows.

Nothing is sent from the webhook request: a reply is a new AUTO_REPLY row that the
dispatcher sends like any other. Every reply tells the patient what to do in an
emergency (the templates say so). A loop guard stops a chatty auto-responder on the
other end: no more than `MAX_AUTO_REPLIES_PER_HOUR` replies to one patient or number per
hour - except the urgent safety-net reply and the single STOP confirmation, which are
never suppressed.

The dispatcher's opt-out re-check must let exactly one row through after STOP: the
confirmation, marked `context["compliance"] == "stop_confirmation"`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from service.composer import Composer, clinic_context
from service.db.models import Clinic, InboundMessage, Message, Patient
from service.domain import Channel, MessageKind, Priority
from service.logs import kv
from service.outbox import queue_message

log = logging.getLogger(__name__)

MAX_AUTO_REPLIES_PER_HOUR = 3
REPLY_VALID_FOR = timedelta(hours=6)  # a "we got your message" a day late only confuses
SAFETY_NET = "urgent_safety_net"
STOP_CONFIRMATION = "stop_confirmation"
NEVER_SUPPRESSED = frozenset({SAFETY_NET, STOP_CONFIRMATION})


def reply_channel(patient: Patient, inbound_channel: Channel, *, name: str) -> Channel | None:
    """Answer on the channel the patient used, unless they opted out of it.

    After STOP the confirmation still goes by SMS (the one message carriers allow);
    a safety-net reply to an opted-out SMS sender goes by email when we can.
    """
    if name == STOP_CONFIRMATION:
        return inbound_channel
    order = [inbound_channel] + [c for c in (Channel.SMS, Channel.EMAIL) if c != inbound_channel]
    usable = [channel for channel in order if _reachable(patient, channel)]
    if not usable or (usable[0] != inbound_channel and name != SAFETY_NET):
        return None
    return usable[0]


def _reachable(patient: Patient, channel: Channel) -> bool:
    if channel == Channel.SMS:
        return bool(patient.phone and patient.phone_can_sms and not patient.sms_opted_out_at)
    return bool(patient.email and not patient.email_opted_out_at)


def queue_reply(
    session: Session,
    *,
    composer: Composer,
    clinic: Clinic,
    inbound: InboundMessage,
    name: str,
    now: datetime,
    patient: Patient | None = None,
    channel: Channel | None = None,
    extra: Mapping[str, object] | None = None,
    language: str | None = None,
) -> Message | None:
    """Queue the system reply `name` to the sender of `inbound`; None when suppressed.

    To a patient the dispatcher uses their current contact; to an unknown sender the
    row carries the address it came from.
    """
    channel = channel or Channel(inbound.channel)
    to_address = None if patient else inbound.from_address
    if name not in NEVER_SUPPRESSED and _recent_replies(
        session, patient_id=patient.id if patient else None, to_address=inbound.from_address,
        now=now,
    ) >= MAX_AUTO_REPLIES_PER_HOUR:  # fmt: skip
        log.warning(kv("inbound.reply_suppressed", inbound_id=inbound.id, reply=name))
        return None
    dedupe_key = f"reply:{inbound.id}:{name}:{channel.value}"
    if session.exec(select(Message.id).where(Message.dedupe_key == dedupe_key)).first():
        return None  # one answer per reply, however many clinics it went to
    language = language or (patient.language if patient else "en")
    rendered = composer.renderer.render_system(
        name=name,
        channel=channel,
        language=language,
        context={**clinic_context(clinic, patient), **(extra or {})},
    )
    message = queue_message(
        session,
        clinic_id=clinic.id,  # type: ignore[arg-type]
        channel=channel,
        body=rendered.text,
        subject=rendered.subject,
        body_html=rendered.html,
        segments=rendered.segments,
        patient_id=patient.id if patient else None,
        to_address=to_address,
        kind=MessageKind.AUTO_REPLY,
        priority=Priority.URGENT,  # an answer to a message the patient just sent
        language=language,
        due_at=now,
        valid_until=now + REPLY_VALID_FOR,
        dedupe_key=dedupe_key,
        reason=f"auto-reply {name} to inbound {inbound.id}",
    )
    message.context = {"compliance": name, "inbound_id": inbound.id}
    session.add(message)
    return message


def _recent_replies(
    session: Session, *, patient_id: int | None, to_address: str, now: datetime
) -> int:
    who = [col(Message.to_address) == to_address]
    if patient_id is not None:
        who.append(col(Message.patient_id) == patient_id)
    query = select(func.count()).where(
        Message.kind == MessageKind.AUTO_REPLY,
        # Replies are due when queued; created_at is the wall clock, not `now`.
        Message.due_at >= now - timedelta(hours=1),
        or_(*who),
    )
    return int(session.exec(query).one())
