"""The inbound use case: record a reply once, match it, triage it, act on it.

Called by the SMS and email webhooks with an already-parsed `InboundReply`. It only
writes rows - the inbound record, alerts, audit entries, outbound replies and pages -
and never calls a provider: the dispatcher sends what is queued here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from service.alerts import open_alert
from service.alerts.pages import page_urgent
from service.composer import Composer
from service.db.models import Alert, Clinic, InboundMessage
from service.domain import AlertSeverity
from service.inbound.actions import HANDLERS, Turn, confirm_opt_out
from service.inbound.compliance import Action, Decision, decide, is_opt_out, only_a_keyword
from service.inbound.matching import Sender, match_sender, triage_hints
from service.inbound.replies import SAFETY_NET, queue_reply
from service.inbound.reply import InboundReply
from service.inbox import enter
from service.logs import kv, mask_email, mask_phone
from service.triage import TriageResult, classify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    inbound_id: int | None
    duplicate: bool = False
    action: str | None = None
    alert_id: int | None = None


def handle_reply(
    session: Session, *, reply: InboundReply, composer: Composer, now: datetime
) -> Outcome:
    """Handle one reply; a replay of one already recorded changes nothing."""
    existing = find_inbound(session, reply.provider_id)
    if existing is not None:
        return Outcome(inbound_id=existing.id, duplicate=True, action=existing.intent)
    sender = match_sender(session, reply)
    inbound = _record(session, reply, sender, now)
    _log_received(reply, inbound, sender)
    if reply.automated or sender.clinic is None:
        inbound.intent = "automated" if reply.automated else "unrouted"
        inbound.handled_at = now
        return Outcome(inbound_id=inbound.id, action=inbound.intent)
    result = _triage(session, reply, sender, now)
    inbound.matches = list(result.matches)
    if sender.patient is None:
        return _unknown_sender(session, reply, sender.clinic, inbound, result.label, composer, now)
    decision = decide(
        text=reply.text,
        label=result.label,
        checkin=result.checkin,
        opted_out=_opted_out(sender, reply),
    )
    turn = Turn(session, composer, sender.clinic, sender.patient, sender.enrollment, inbound, now)
    alert = HANDLERS[decision.action](turn, decision)
    if decision.opt_out_word:
        confirm_opt_out(turn)
    inbound.intent = str(decision.checkin) if decision.checkin else result.label
    inbound.handled_at = now
    session.add(inbound)
    _file(turn, reply, decision, result.label, alert)
    log.info(kv("inbound.handled", inbound_id=inbound.id, decision=decision.action,
                alert_id=alert.id if alert else None))  # fmt: skip
    return Outcome(inbound.id, action=decision.action, alert_id=alert.id if alert else None)


def _file(
    turn: Turn, reply: InboundReply, decision: Decision, label: str, alert: Alert | None
) -> None:
    """Into the replies inbox, unless there is nothing for a person to read."""
    if reply.is_empty or only_a_keyword(reply.text, decision):
        return
    enter(turn.session, inbound=turn.inbound, clinic=turn.clinic, label=label, now=turn.now,
          patient=turn.patient, alert_id=alert.id if alert else None)  # fmt: skip


def _log_received(reply: InboundReply, inbound: InboundMessage, sender: Sender) -> None:
    masked = (
        mask_phone(reply.from_address) if reply.channel == "sms" else mask_email(reply.from_address)
    )
    log.info(kv("inbound.received", inbound_id=inbound.id, channel=reply.channel, sender=masked,
                clinic_id=inbound.clinic_id, patient_id=inbound.patient_id,
                media=len(reply.media_urls)))  # fmt: skip


def find_inbound(session: Session, provider_id: str) -> InboundMessage | None:
    return session.exec(
        select(InboundMessage).where(InboundMessage.provider_id == provider_id)
    ).first()


def _record(session: Session, reply: InboundReply, sender: Sender, now: datetime) -> InboundMessage:
    inbound = InboundMessage(
        provider_id=reply.provider_id,
        channel=reply.channel,
        clinic_id=sender.clinic.id if sender.clinic else None,
        patient_id=sender.patient.id if sender.patient else None,
        enrollment_id=sender.enrollment.id if sender.enrollment else None,
        from_address=reply.from_address[:254],
        to_address=(reply.to_address or "")[:254] or None,
        body=reply.body,
        triaged_text=reply.text,
        media_urls=list(reply.media_urls),
        received_at=now,
    )
    session.add(inbound)
    session.flush()  # the unique provider_id trips here for a concurrent replay
    return inbound


def _triage(session: Session, reply: InboundReply, sender: Sender, now: datetime) -> TriageResult:
    if not reply.text.strip():
        return TriageResult(label="other")  # media-only or empty: nothing to classify
    procedure, day = triage_hints(session, sender.enrollment, now=now)
    try:
        return _classify(reply, procedure, day)
    except Exception:
        # The reply must not be lost with the webhook: keywords still work, and a person
        # reads it today (concern: review alert + a reply with the emergency number).
        log.exception(kv("inbound.triage_failed", channel=reply.channel))
        return TriageResult(label="concern", matches=["automatic triage failed: read it"])


def _classify(reply: InboundReply, procedure: str | None, day: int | None) -> TriageResult:
    result = classify(reply.text, procedure=procedure, day=day)
    if result.label != "urgent" and reply.unstripped_text and reply.unstripped_text != reply.text:
        # A line the reply parser took for a signature ("Thanks, but I can't breathe")
        # must not hide a red flag: the latest reply is also read whole.
        whole = classify(reply.unstripped_text, procedure=procedure, day=day)
        if whole.label == "urgent":
            return whole
    return result


def _opted_out(sender: Sender, reply: InboundReply) -> bool:
    patient = sender.patient
    if patient is None:
        return False
    if reply.channel == "email":
        return patient.email_opted_out_at is not None
    return patient.sms_opted_out_at is not None


def _unknown_sender(
    session: Session,
    reply: InboundReply,
    clinic: Clinic,
    inbound: InboundMessage,
    label: str,
    composer: Composer,
    now: datetime,
) -> Outcome:
    """Answer a number we do not know once, politely (never after STOP: the carrier
    would refuse it) - and still page on a red flag: a patient texting from a new phone
    must not be missed."""
    inbound.intent, inbound.handled_at = label, now
    alert = None
    if label == "urgent":
        alert = _urgent_unknown(session, clinic, inbound, composer, now)
        values = composer.safety_net(plan=None, matches=inbound.matches or [], language="en")
        queue_reply(session, composer=composer, clinic=clinic, inbound=inbound,
                    name=SAFETY_NET, now=now, extra=values)  # fmt: skip
    elif not is_opt_out(reply.text) and not _answered_before(session, clinic, reply):
        queue_reply(session, composer=composer, clinic=clinic, inbound=inbound,
                    name="unknown_sender", now=now)  # fmt: skip
    if not reply.is_empty and not only_a_keyword(reply.text, decide(text=reply.text, label=label)):
        enter(session, inbound=inbound, clinic=clinic, label=label, now=now,
              alert_id=alert.id if alert else None)  # fmt: skip
    return Outcome(inbound.id, action=f"unknown:{label}", alert_id=alert.id if alert else None)


def _urgent_unknown(
    session: Session, clinic: Clinic, inbound: InboundMessage, composer: Composer, now: datetime
) -> Alert:
    summary = "Urgent reply from an unknown number: " + ", ".join(inbound.matches or ["?"])
    alert = open_alert(session, clinic=clinic, severity=AlertSeverity.URGENT,
                       kind="triage_urgent", summary=summary, now=now,
                       inbound_id=inbound.id)  # fmt: skip
    page_urgent(session, composer=composer, alert=alert, clinic=clinic, now=now)
    return alert


def _answered_before(session: Session, clinic: Clinic, reply: InboundReply) -> bool:
    previous = session.exec(
        select(InboundMessage.id).where(
            InboundMessage.clinic_id == clinic.id,
            InboundMessage.from_address == reply.from_address,
            InboundMessage.provider_id != reply.provider_id,
        )
    ).first()
    return previous is not None


__all__ = ["Action", "Decision", "Outcome", "find_inbound", "handle_reply"]
