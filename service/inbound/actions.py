"""What each compliance decision does: alerts, pages, consent changes and replies."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from service.alerts import open_alert, open_urgent_alert, unresolved_of_kind
from service.alerts.pages import page_task, page_urgent
from service.audit import record_audit
from service.composer import Composer
from service.db.models import Alert, Clinic, Enrollment, InboundMessage, Patient
from service.domain import ActorType, AlertSeverity, Channel
from service.enrollment import SmsLoss, lose_sms, regain_sms
from service.inbound.compliance import Action, Decision
from service.inbound.replies import (
    SAFETY_NET,
    STOP_CONFIRMATION,
    queue_reply,
    reply_channel,
)
from service.logs import kv
from service.plans.model import Plan, PlanError
from service.plans.store import load_pinned

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    """One inbound reply being handled, with everything the actions need."""

    session: Session
    composer: Composer
    clinic: Clinic
    patient: Patient
    enrollment: Enrollment | None
    inbound: InboundMessage
    now: datetime

    @property
    def channel(self) -> Channel:
        return Channel(self.inbound.channel)

    def reply(self, name: str, **extra: object) -> None:
        channel = reply_channel(self.patient, self.channel, name=name)
        if channel is None:
            log.warning(kv("inbound.no_reply_channel", inbound_id=self.inbound.id, reply=name))
            return
        queue_reply(self.session, composer=self.composer, clinic=self.clinic,
                    inbound=self.inbound, name=name, now=self.now, patient=self.patient,
                    channel=channel, extra=extra)  # fmt: skip

    def safety_net(self) -> None:
        """The reply to an urgent report, fitted to the patient's plan and the sign."""
        values = self.composer.safety_net(
            plan=self._plan(), matches=self.inbound.matches or [], language=self.patient.language
        )
        self.reply(SAFETY_NET, **values)

    def _plan(self) -> Plan | None:
        """The patient's pinned plan, whose warning signs the safety net follows."""
        if self.enrollment is None:
            return None
        try:
            return load_pinned(self.session, self.enrollment.plan_key, self.enrollment.plan_version)
        except PlanError:  # the reply still goes, with the general signs
            log.exception(kv("inbound.plan_unreadable", enrollment_id=self.enrollment.id))
            return None

    def alert(self, severity: AlertSeverity, kind: str, summary: str) -> Alert:
        return open_alert(self.session, clinic=self.clinic, severity=severity, kind=kind,
                          summary=summary, now=self.now, patient_id=self.patient.id,
                          enrollment_id=self.enrollment.id if self.enrollment else None,
                          inbound_id=self.inbound.id)  # fmt: skip

    def audit(self, action: str, reason: str | None = None) -> None:
        record_audit(self.session, actor_type=ActorType.PATIENT, actor=f"patient:{self.patient.id}",
                     action=action, entity_type="patient", entity_id=self.patient.id,
                     clinic_id=self.clinic.id, reason=reason,
                     detail={"inbound_id": self.inbound.id})  # fmt: skip


def on_urgent(turn: Turn, decision: Decision) -> Alert:
    """Page first, then the safety-net reply: neither is ever suppressed."""
    existing = open_urgent_alert(turn.session, clinic=turn.clinic, patient_id=turn.patient.id)
    if existing is not None:
        # Still unacknowledged and escalating: one alert per emergency, not one per text.
        turn.audit("alert.followup", reason=f"another urgent reply for alert {existing.id}")
        turn.safety_net()
        return existing
    summary = "Urgent reply: " + ", ".join(turn.inbound.matches or ["warning sign"])
    if decision.opt_out_word:
        summary += " (the message also contains an opt-out word: confirm by phone)"
    alert = turn.alert(AlertSeverity.URGENT, "triage_urgent", summary)
    page_urgent(turn.session, composer=turn.composer, alert=alert, clinic=turn.clinic, now=turn.now)
    turn.safety_net()
    return alert


CONFIRM_OPT_OUT = (
    "wrote a word like STOP in a reply about a symptom, handled as the symptom: ask "
    "whether they want messages to stop (they continue until the patient says so)"
)


def confirm_opt_out(turn: Turn) -> Alert | None:
    """ "The pain won't stop": the symptom won, but a person asks whether the patient
    also meant to stop the messages. One open task per patient at a time."""
    kind = "confirm_opt_out"
    if unresolved_of_kind(turn.session, clinic=turn.clinic, patient_id=turn.patient.id, kind=kind):
        return None
    alert = turn.alert(AlertSeverity.TASK, kind, f"Patient {CONFIRM_OPT_OUT}")
    page_task(turn.session, composer=turn.composer, alert=alert, clinic=turn.clinic,
              task=CONFIRM_OPT_OUT, now=turn.now)  # fmt: skip
    return alert


def on_concern(turn: Turn, decision: Decision) -> Alert:
    summary = "Needs review today: " + ", ".join(turn.inbound.matches or ["patient concern"])
    alert = turn.alert(AlertSeverity.CONCERN, "triage_concern", summary)
    turn.reply("concern_reply")
    return alert


def on_opt_out(turn: Turn, decision: Decision) -> Alert | None:
    patient, now = turn.patient, turn.now
    loss = None
    if turn.channel == Channel.EMAIL:
        already = patient.email_opted_out_at is not None
        patient.email_opted_out_at = patient.email_opted_out_at or now
    else:
        already = patient.sms_opted_out_at is not None
        patient.sms_opted_out_at = patient.sms_opted_out_at or now
        loss = lose_sms(turn.session, patient=patient, why="patient replied STOP", now=now)
    turn.session.add(patient)
    if already:
        return None  # carriers allow one confirmation; the clinic already knows
    turn.audit(f"patient.opt_out.{turn.channel.value}", reason="keyword reply")
    turn.reply(STOP_CONFIRMATION, safety_by_email=bool(loss and loss.safety_by_email))
    task = opt_out_task(turn.channel, loss)
    alert = turn.alert(AlertSeverity.TASK, "opt_out", f"Patient {task}: call to follow up")
    page_task(turn.session, composer=turn.composer, alert=alert, clinic=turn.clinic,
              task=task, now=now)  # fmt: skip
    return alert


def opt_out_task(channel: Channel, loss: SmsLoss | None) -> str:
    """What staff must know about an opt-out: above all, whether the red flags still reach
    the patient."""
    if channel == Channel.EMAIL or loss is None:
        return "opted out of aftercare emails"
    if loss.safety_lost:
        return (f"opted out of aftercare texts and cannot get email: {loss.safety_lost} "
                "red-flag reminder(s) and safety message(s) will not reach them")  # fmt: skip
    if loss.safety_by_email:
        return (f"opted out of aftercare texts; {loss.safety_by_email} red-flag reminder(s) "
                "and safety message(s) will go by email")  # fmt: skip
    return "opted out of aftercare texts"


def on_opt_in(turn: Turn, decision: Decision) -> Alert | None:
    patient = turn.patient
    if turn.channel == Channel.EMAIL:
        patient.email_opted_out_at = None
    else:
        patient.sms_opted_out_at = None
        patient.sms_consent_at = patient.sms_consent_at or turn.now
        patient.sms_consent_source = patient.sms_consent_source or "keyword START"
    turn.session.add(patient)
    turn.audit(f"patient.opt_in.{turn.channel.value}", reason="keyword reply")
    if turn.channel == Channel.EMAIL:
        turn.reply("start_confirmation")
        return None
    return _texts_back(turn)


def _texts_back(turn: Turn) -> Alert | None:
    """Resume the texts STOP cancelled; tell the patient what comes next, truthfully."""
    back = regain_sms(turn.session, clinic=turn.clinic, patient=turn.patient, now=turn.now)
    tz = ZoneInfo(turn.patient.timezone)
    turn.reply("start_confirmation", plan_stopped=back.plan_stopped,
               **back.coming.context(tz, turn.patient.language))  # fmt: skip
    if not back.plan_stopped:
        return None
    task = "texted START to get texts again, but their plan is cancelled: resume it if right"
    alert = turn.alert(AlertSeverity.TASK, "wants_texts", f"Patient {task}")
    page_task(turn.session, composer=turn.composer, alert=alert, clinic=turn.clinic,
              task=task, now=turn.now)  # fmt: skip
    return alert


def on_help(turn: Turn, decision: Decision) -> None:
    turn.reply("help")


def on_checkin(turn: Turn, decision: Decision) -> Alert | None:
    answer = decision.checkin
    if answer == 3:
        alert = turn.alert(AlertSeverity.TASK, "callback", "Asked for a call back (check-in 3)")
        turn.reply("callback_ack")
        return alert
    if answer == 2:
        # "2 if something worries you": a worry is reviewed the same day.
        alert = turn.alert(AlertSeverity.CONCERN, "checkin_worry", "Check-in answer 2: worried")
        turn.reply("checkin_ack", answer=2)
        return alert
    turn.reply("checkin_ack", answer=1)
    return None


def on_note(turn: Turn, decision: Decision) -> Alert | None:
    if turn.inbound.media_urls:
        # A photo of a wound is clinical information: someone has to look at it.
        return turn.alert(AlertSeverity.TASK, "media_review", "Sent a photo: please review")
    return None


HANDLERS = {
    Action.URGENT: on_urgent,
    Action.CONCERN: on_concern,
    Action.OPT_OUT: on_opt_out,
    Action.OPT_IN: on_opt_in,
    Action.HELP: on_help,
    Action.CHECKIN: on_checkin,
    Action.NOTE: on_note,
}
