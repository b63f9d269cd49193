"""What each compliance decision does: alerts, pages, consent changes and replies."""

from __future__ import annotations

import logging
from dataclasses import fields
from zoneinfo import ZoneInfo

from service.alerts import open_urgent_alert, unresolved_of_kind
from service.alerts.pages import page_task, page_urgent
from service.db.models import Alert, Patient
from service.domain import AlertSeverity, Channel
from service.enrollment import SmsLoss, lose_sms, regain_sms
from service.enrollment.coming import Coming
from service.inbound.compliance import Action, Decision
from service.inbound.replies import STOP_CONFIRMATION
from service.inbound.turn import Turn

log = logging.getLogger(__name__)


def on_urgent(turn: Turn, decision: Decision) -> Alert:
    """Page first, then the safety-net reply: neither is ever suppressed."""
    patient_id = turn.patient.id if turn.patient else None
    existing = open_urgent_alert(turn.session, clinic=turn.clinic, patient_id=patient_id)
    if existing is not None:
        # Still unacknowledged and escalating: one alert per emergency, not one per text.
        turn.audit("alert.followup", reason=f"another urgent reply for alert {existing.id}")
        turn.safety_net()
        return existing
    summary = "Urgent reply: " + ", ".join(turn.inbound.matches or ["warning sign"])
    if decision.opt_out_word:
        summary += " (the message also contains an opt-out word: confirm by phone)"
    alert = turn.alert(AlertSeverity.URGENT, "triage_urgent", turn.titled(summary))
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
    patient_id = turn.patient.id if turn.patient else None
    if unresolved_of_kind(turn.session, clinic=turn.clinic, patient_id=patient_id, kind=kind):
        return None
    alert = turn.alert(AlertSeverity.TASK, kind, turn.titled(f"Patient {CONFIRM_OPT_OUT}"))
    page_task(turn.session, composer=turn.composer, alert=alert, clinic=turn.clinic,
              task=CONFIRM_OPT_OUT, now=turn.now)  # fmt: skip
    return alert


def on_concern(turn: Turn, decision: Decision) -> Alert:
    summary = "Needs review today: " + ", ".join(turn.inbound.matches or ["patient concern"])
    alert = turn.alert(AlertSeverity.CONCERN, "triage_concern", turn.titled(summary))
    turn.reply("concern_reply")
    return alert


def on_opt_out(turn: Turn, decision: Decision) -> Alert | None:
    """Opt out everyone on the number (the carrier now blocks it for all of them)."""
    people = turn.on_number
    already = all(_opted_out(p, turn.channel) for p in people)
    loss = SmsLoss() if turn.channel == Channel.SMS else None
    for patient in people:
        if turn.channel == Channel.EMAIL:
            patient.email_opted_out_at = patient.email_opted_out_at or turn.now
        else:
            patient.sms_opted_out_at = patient.sms_opted_out_at or turn.now
            loss = _add(loss, lose_sms(turn.session, patient=patient, why="patient replied STOP",
                                       now=turn.now))  # fmt: skip
        turn.session.add(patient)
        turn.audit(f"patient.opt_out.{turn.channel.value}", reason="keyword reply", patient=patient)
    if already:
        return None  # carriers allow one confirmation; the clinic already knows
    turn.reply(STOP_CONFIRMATION, safety_by_email=bool(loss and loss.safety_by_email))
    task = opt_out_task(turn.channel, loss)
    alert = turn.alert(
        AlertSeverity.TASK, "opt_out", turn.titled(f"Patient {task}: call to follow up")
    )
    page_task(turn.session, composer=turn.composer, alert=alert, clinic=turn.clinic,
              task=task, now=turn.now)  # fmt: skip
    return alert


def _opted_out(patient: Patient, channel: Channel) -> bool:
    if channel == Channel.EMAIL:
        return patient.email_opted_out_at is not None
    return patient.sms_opted_out_at is not None


def _add(total: SmsLoss | None, more: SmsLoss) -> SmsLoss:
    """What STOP cost a shared number's people, added up."""
    if total is None:
        return more
    return SmsLoss(**{f.name: getattr(total, f.name) + getattr(more, f.name)
                      for f in fields(SmsLoss)})  # fmt: skip


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
    """START (or "yes" after STOP) opts everyone on the number back in."""
    for patient in turn.on_number:
        if turn.channel == Channel.EMAIL:
            patient.email_opted_out_at = None
        else:
            patient.sms_opted_out_at = None
            patient.sms_consent_at = patient.sms_consent_at or turn.now
            patient.sms_consent_source = patient.sms_consent_source or "keyword START"
        turn.session.add(patient)
        turn.audit(f"patient.opt_in.{turn.channel.value}", reason="keyword reply", patient=patient)
    if turn.channel == Channel.EMAIL:
        turn.reply("start_confirmation")
        return None
    return _texts_back(turn)


def _texts_back(turn: Turn) -> Alert | None:
    """Resume the texts STOP cancelled; tell the patient what comes next, truthfully (on a
    shared number nobody was attributed: the next message for any of them)."""
    speaks_for = (turn.patient,) if turn.patient else turn.on_number
    coming, stopped = Coming(0, None), []
    for patient in turn.on_number:
        back = regain_sms(turn.session, clinic=turn.clinic, patient=patient, now=turn.now)
        if patient in speaks_for:
            nexts = [at for at in (coming.next_at, back.coming.next_at) if at is not None]
            coming = Coming(coming.count + back.coming.count, min(nexts, default=None))
            stopped += [patient] if back.plan_stopped else []
    lead = speaks_for[0]
    turn.reply("start_confirmation", plan_stopped=bool(stopped) and not coming.count,
               **coming.context(ZoneInfo(lead.timezone), turn.language))  # fmt: skip
    if not stopped:
        return None
    task = "texted START to get texts again, but their plan is cancelled: resume it if right"
    alert = turn.alert(AlertSeverity.TASK, "wants_texts", turn.titled(f"Patient {task}"))
    page_task(turn.session, composer=turn.composer, alert=alert, clinic=turn.clinic,
              task=task, now=turn.now)  # fmt: skip
    return alert


def on_help(turn: Turn, decision: Decision) -> None:
    turn.reply("help")


def on_checkin(turn: Turn, decision: Decision) -> Alert | None:
    answer = decision.checkin
    if answer == 3:
        summary = turn.titled("Asked for a call back (check-in 3)")
        alert = turn.alert(AlertSeverity.TASK, "callback", summary)
        turn.reply("callback_ack")
        return alert
    if answer == 2:
        # "2 if something worries you": a worry is reviewed the same day.
        summary = turn.titled("Check-in answer 2: worried")
        alert = turn.alert(AlertSeverity.CONCERN, "checkin_worry", summary)
        turn.reply("checkin_ack", answer=2)
        return alert
    turn.reply("checkin_ack", answer=1)
    return None


def on_note(turn: Turn, decision: Decision) -> Alert | None:
    if turn.inbound.media_urls:
        # A photo of a wound is clinical information: someone has to look at it.
        return turn.alert(AlertSeverity.TASK, "media_review",
                          turn.titled("Sent a photo: please review"))  # fmt: skip
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
