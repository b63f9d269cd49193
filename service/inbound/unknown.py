"""A reply from a number no patient of the clinic has: answered once, paged if urgent."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from service.alerts import open_alert
from service.alerts.pages import page_urgent
from service.composer import Composer
from service.db.models import Alert, Clinic, InboundMessage
from service.domain import AlertSeverity
from service.inbound.compliance import decide, is_opt_out, only_a_keyword
from service.inbound.replies import SAFETY_NET, queue_reply
from service.inbound.reply import InboundReply
from service.inbox import enter


def answer_unknown(
    session: Session,
    reply: InboundReply,
    clinic: Clinic,
    inbound: InboundMessage,
    label: str,
    composer: Composer,
    now: datetime,
) -> Alert | None:
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
    return alert


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
