"""A staff reply from the conversation thread: an outbox row the dispatcher sends at once.

A person chose to send it, so quiet hours do not hold it (priority URGENT; the web page
warns when it is night for the patient), but opt-out is absolute: a channel the patient
opted out of, or one that cannot reach them, is refused with a message saying what to do
instead. Sending it is audited and handles the patient's unread replies.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from service.audit import record_audit
from service.composer import Composer, clinic_context
from service.db.models import Clinic, InboundMessage, Message, Patient
from service.domain import ActorType, Channel, MessageKind, Priority
from service.inbox.items import mark_patient_handled
from service.logs import kv
from service.outbox import queue_message
from service.rendering import RenderError
from service.scheduling import QuietHours

log = logging.getLogger(__name__)

TEMPLATE = "staff_reply"
MAX_TEXT = 1200  # with the clinic's name and emergency line, within Twilio's 1,600
MAX_SMS_CHARS = 1600
VALID_FOR = timedelta(hours=24)  # a reply that could not leave in a day needs a phone call


class StaffReplyError(ValueError):
    """A reply that cannot be sent: `field` names the input; `conflict` when the input is
    fine but the patient cannot be reached that way (opted out, landline)."""

    def __init__(self, field: str, message: str, *, conflict: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.conflict = field, message, conflict


@dataclass(frozen=True)
class StaffReply:
    message: Message
    created: bool = True


def default_channel(session: Session, patient: Patient) -> Channel:
    """The channel the patient last wrote on; else SMS when they have a phone."""
    last = session.exec(
        select(InboundMessage.channel)
        .where(InboundMessage.patient_id == patient.id)
        .order_by(col(InboundMessage.received_at).desc())
    ).first()
    if last is not None:
        return Channel(last)
    return Channel.SMS if patient.phone else Channel.EMAIL


def refusal(patient: Patient, channel: Channel) -> StaffReplyError | None:
    """Why `channel` cannot reach the patient now, in words for staff; None if it can."""
    if channel == Channel.SMS:
        if not patient.phone:
            return StaffReplyError("channel", "the patient has no phone number: reply by email")
        if patient.sms_opted_out_at is not None:
            return StaffReplyError("channel", "the patient texted STOP: no text can reach them "
                                   "until they text START. Reply by email or phone them.",
                                   conflict=True)  # fmt: skip
        if not patient.phone_can_sms:
            return StaffReplyError("channel", "the patient's number cannot take texts: "
                                   "reply by email or phone them", conflict=True)  # fmt: skip
        return None
    if not patient.email:
        return StaffReplyError("channel", "the patient has no email address: reply by text")
    if patient.email_opted_out_at is not None:
        return StaffReplyError("channel", "the patient unsubscribed from email: reply by text "
                               "or phone them", conflict=True)  # fmt: skip
    return None


def send_staff_reply(
    session: Session,
    *,
    composer: Composer,
    clinic: Clinic,
    patient: Patient,
    text: str,
    actor: str,
    now: datetime,
    channel: Channel | None = None,
    key: str | None = None,
) -> StaffReply:
    """Queue a person's reply to the patient. `key` makes a resubmitted form (or a
    retried request) return the first reply instead of sending twice."""
    words = text.strip()
    if not words:
        raise StaffReplyError("text", "must not be empty")
    if len(words) > MAX_TEXT:
        raise StaffReplyError("text", f"at most {MAX_TEXT} characters ({len(words)} given)")
    dedupe = f"staff:{patient.id}:{key or uuid.uuid4().hex}"
    earlier = session.exec(select(Message).where(Message.dedupe_key == dedupe)).first()
    if earlier is not None:
        return StaffReply(earlier, created=False)
    channel = channel or default_channel(session, patient)
    problem = refusal(patient, channel)
    if problem is not None:
        raise problem
    message = _queue(session, composer, clinic, patient, words, channel, now, dedupe)
    message.context = {"sent_by": actor}
    session.add(message)
    actor_type = ActorType.API_KEY if actor.startswith("api_key:") else ActorType.USER
    record_audit(session, actor_type=actor_type, actor=actor, action="message.staff_reply",
                 entity_type="patient", entity_id=patient.id, clinic_id=clinic.id,
                 detail={"message_id": message.id, "channel": channel.value})  # fmt: skip
    mark_patient_handled(session, clinic_id=clinic.id, patient_id=patient.id,  # type: ignore[arg-type]
                         actor=actor, now=now, note="replied")  # fmt: skip
    log.info(kv("inbox.staff_reply", message_id=message.id, channel=channel.value))
    return StaffReply(message)


def _queue(
    session: Session, composer: Composer, clinic: Clinic, patient: Patient, words: str,
    channel: Channel, now: datetime, dedupe: str,
) -> Message:  # fmt: skip
    try:
        rendered = composer.renderer.render_system(
            name=TEMPLATE, channel=channel, language=patient.language,
            context={**clinic_context(clinic, patient), "text": words},
        )  # fmt: skip
    except RenderError as exc:
        raise StaffReplyError("text", f"cannot be sent: {exc.reason}") from None
    if channel == Channel.SMS and len(rendered.text) > MAX_SMS_CHARS:
        raise StaffReplyError("text", "too long for a text message: shorten it or send an email")
    return queue_message(
        session, clinic_id=clinic.id, channel=channel, body=rendered.text,  # type: ignore[arg-type]
        subject=rendered.subject, body_html=rendered.html, segments=rendered.segments,
        patient_id=patient.id, kind=MessageKind.STAFF_REPLY, priority=Priority.URGENT,
        language=patient.language, due_at=now, valid_until=now + VALID_FOR,
        dedupe_key=dedupe, reason="staff reply",
    )  # fmt: skip


def night_for(patient: Patient, clinic: Clinic, now: datetime) -> str | None:
    """The patient's local time when it falls in the clinic's quiet hours (the page warns
    that a reply sent now arrives at night); None by day."""
    local = now.astimezone(ZoneInfo(patient.timezone))
    quiet = QuietHours(clinic.quiet_start, clinic.quiet_end)
    return f"{local:%H:%M} {local.tzname()}" if quiet.contains(local.time()) else None
