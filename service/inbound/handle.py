"""The inbound use case: record a reply once, route it, triage it, act on it, file it.

Called by the SMS and email webhooks with an already-parsed `InboundReply`. It only
writes rows - the inbound record, alerts, audit entries, outbound replies and pages -
and never calls a provider: the dispatcher sends what is queued here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from service.composer import Composer
from service.db.models import InboundMessage, ReplyItem
from service.inbound.actions import HANDLERS, confirm_opt_out
from service.inbound.compliance import Action, Decision, decide, only_a_keyword
from service.inbound.matching import Route, route_reply, triage_hints
from service.inbound.reply import InboundReply
from service.inbound.turn import Turn
from service.inbound.unknown import answer_unknown
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
    routes = route_reply(session, reply, now=now)
    inbound = _record(session, reply, routes, now)
    _log_received(reply, inbound, len(routes))
    if reply.automated or not routes:
        inbound.intent = "automated" if reply.automated else "unrouted"
        inbound.handled_at = now
        return Outcome(inbound_id=inbound.id, action=inbound.intent)
    # A shared sender the number belongs to in several clinics: each clinic acts on it
    # (its alert, its pages, its inbox); the patient gets one answer, the first's.
    outcomes = [_handle_route(session, reply, route, inbound, composer, now) for route in routes]
    inbound.handled_at = now
    session.add(inbound)
    alerts = [o.alert_id for o in outcomes if o.alert_id is not None]
    return Outcome(inbound.id, action=outcomes[0].action, alert_id=alerts[0] if alerts else None)


def _handle_route(
    session: Session, reply: InboundReply, route: Route, inbound: InboundMessage,
    composer: Composer, now: datetime,
) -> Outcome:  # fmt: skip
    result = _triage(session, reply, route, now)
    inbound.matches = list(result.matches)
    if route.patient is None and not route.household:
        alert = answer_unknown(session, reply, route.clinic, inbound, result.label, composer, now)
        action = f"unknown:{result.label}"
        return Outcome(inbound.id, action=action, alert_id=alert.id if alert else None)
    decision = decide(text=reply.text, label=result.label, checkin=result.checkin,
                      opted_out=_opted_out(route, reply))  # fmt: skip
    turn = Turn(session, composer, route.clinic, route.patient, route.enrollment, inbound, now,
                household=route.household)  # fmt: skip
    item = _file(turn, reply, decision, result.label)  # first: pages name a shared number's people
    alert = HANDLERS[decision.action](turn, decision)
    if decision.opt_out_word:
        confirm_opt_out(turn)
    if item is not None and alert is not None:
        item.alert_id = alert.id
        session.add(item)
    inbound.intent = str(decision.checkin) if decision.checkin else result.label
    log.info(kv("inbound.handled", inbound_id=inbound.id, clinic_id=route.clinic.id,
                decision=decision.action, shared=route.shared,
                alert_id=alert.id if alert else None))  # fmt: skip
    return Outcome(inbound.id, action=decision.action, alert_id=alert.id if alert else None)


def _file(turn: Turn, reply: InboundReply, decision: Decision, label: str) -> ReplyItem | None:
    """Into the replies inbox, unless there is nothing for a person to read."""
    if reply.is_empty or only_a_keyword(reply.text, decision):
        return None
    return enter(turn.session, inbound=turn.inbound, clinic=turn.clinic, label=label,
                 now=turn.now, patient=turn.patient,
                 candidates=[p.id for p in turn.household if p.id])  # fmt: skip


def _log_received(reply: InboundReply, inbound: InboundMessage, routes: int) -> None:
    masked = (
        mask_phone(reply.from_address) if reply.channel == "sms" else mask_email(reply.from_address)
    )
    log.info(kv("inbound.received", inbound_id=inbound.id, channel=reply.channel, sender=masked,
                clinic_id=inbound.clinic_id, patient_id=inbound.patient_id, routes=routes,
                media=len(reply.media_urls)))  # fmt: skip


def find_inbound(session: Session, provider_id: str) -> InboundMessage | None:
    return session.exec(
        select(InboundMessage).where(InboundMessage.provider_id == provider_id)
    ).first()


def _record(
    session: Session, reply: InboundReply, routes: list[Route], now: datetime
) -> InboundMessage:
    """The reply as received; its clinic and patient when it went to exactly one."""
    one = routes[0] if len(routes) == 1 else None
    inbound = InboundMessage(
        provider_id=reply.provider_id,
        channel=reply.channel,
        clinic_id=one.clinic.id if one else None,
        patient_id=one.patient.id if one and one.patient else None,
        enrollment_id=one.enrollment.id if one and one.enrollment else None,
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


def _triage(session: Session, reply: InboundReply, route: Route, now: datetime) -> TriageResult:
    if not reply.text.strip():
        return TriageResult(label="other")  # media-only or empty: nothing to classify
    procedure, day = triage_hints(session, route.enrollment, now=now)
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


def _opted_out(route: Route, reply: InboundReply) -> bool:
    """Whether the sender has opted out of this channel (any of a shared number's people:
    a bare "yes" from that number then opts back in)."""
    people = (route.patient,) if route.patient else route.household
    if reply.channel == "email":
        return any(p.email_opted_out_at is not None for p in people)
    return any(p.sms_opted_out_at is not None for p in people)


__all__ = ["Action", "Decision", "Outcome", "find_inbound", "handle_reply"]
