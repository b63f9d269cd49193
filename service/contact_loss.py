"""A patient's texts lost to the carrier: an opt-out at the carrier (Twilio 21610) or a
number that cannot take texts (a landline, a number that no longer exists).

Either way no text goes to that number again until staff or the patient change it; the
patient's pending texts are handled as after STOP (safety messages go on by email when
they can); and staff get one task that says whether the red flags still reach the
patient. The patient page shows why (`sms_unreachable_reason`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session

from service import metrics
from service.audit import record_audit
from service.db.models import Alert, Patient
from service.domain import ActorType, AlertSeverity
from service.logs import kv

if TYPE_CHECKING:
    from service.enrollment import SmsLoss

log = logging.getLogger(__name__)
UNREACHABLE_TASK = "sms_unreachable"


def mark_unreachable(
    session: Session, patient: Patient, *, reason: str, now: datetime
) -> SmsLoss | None:
    """The carrier says this number cannot take texts; None if that was already known."""
    if not patient.phone_can_sms and patient.sms_unreachable_at is not None:
        return None
    patient.phone_can_sms = False
    patient.sms_unreachable_at, patient.sms_unreachable_reason = now, reason[:200]
    session.add(patient)
    loss = _lose_sms(session, patient=patient, why=f"the number cannot take texts ({reason})",
                    now=now)  # fmt: skip
    _audit(session, patient, "patient.sms_unreachable", reason)
    what = f"Texts cannot reach this patient's number ({reason}): no more texts will be sent"
    open_task(session, patient, kind=UNREACHABLE_TASK, now=now,
              summary=f"{what}; {safety_line(loss)}. Phone them for a mobile number.")  # fmt: skip
    return loss


def carrier_opt_out(session: Session, patient: Patient, *, now: datetime) -> SmsLoss | None:
    """The carrier refuses texts because the patient opted out there (their STOP reached
    the carrier, not us): honoured like our own STOP."""
    if patient.sms_opted_out_at is not None:
        return None
    patient.sms_opted_out_at = now
    session.add(patient)
    loss = _lose_sms(session, patient=patient, why="opted out at the carrier", now=now)
    _audit(session, patient, "patient.opt_out.sms", "carrier reported an opt-out")
    open_task(session, patient, kind="opt_out", now=now,
              summary=f"Opted out of texts at the carrier; {safety_line(loss)}. "
              "Call to follow up.")  # fmt: skip
    return loss


def safety_line(loss: SmsLoss) -> str:
    if loss.safety_lost:
        return f"{loss.safety_lost} red-flag reminder(s) and safety message(s) will not reach them"
    if loss.safety_by_email:
        return f"{loss.safety_by_email} red-flag reminder(s) and safety message(s) go by email"
    return "no safety message was waiting"


def open_task(
    session: Session,
    patient: Patient,
    *,
    kind: str,
    summary: str,
    now: datetime,
    message_id: int | None = None,
    enrollment_id: int | None = None,
) -> Alert:
    """A follow-up for staff (a task: it pages nobody and holds no message)."""
    alert = Alert(
        clinic_id=patient.clinic_id,
        patient_id=patient.id,
        enrollment_id=enrollment_id,
        message_id=message_id,
        severity=AlertSeverity.TASK,
        kind=kind,
        summary=summary[:500],
        created_at=now,
    )
    session.add(alert)
    metrics.ALERTS_OPENED.labels(severity=AlertSeverity.TASK).inc()
    log.info(kv("alert.open", patient_id=patient.id, severity=AlertSeverity.TASK, kind=kind))
    return alert


def _audit(session: Session, patient: Patient, action: str, reason: str) -> None:
    record_audit(session, actor_type=ActorType.SYSTEM, actor="provider", action=action,
                 entity_type="patient", entity_id=patient.id, clinic_id=patient.clinic_id,
                 reason=reason[:500])  # fmt: skip


def _lose_sms(session: Session, *, patient: Patient, why: str, now: datetime) -> SmsLoss:
    """`enrollment.lose_sms`, imported on first use: the dispatcher imports this module
    (a send can find a number dead), and the enrolment package would bring the triage
    lexicon and the plan exporter into every worker's start (~25 ms of CPU)."""
    from service.enrollment import lose_sms

    return lose_sms(session, patient=patient, why=why, now=now)
