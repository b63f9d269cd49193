"""What may still stop a claimed row, decided just before the provider call.

Pure: takes the rows (read under the lock by the caller) and `now`, returns a Verdict.
Order matters: an opt-out or a cancelled enrolment beats everything; staleness is next
(a message is skipped, never sent late); then holds that only move the row later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from service.db.models import Clinic, Enrollment, Message, Patient
from service.domain import Channel, EnrollmentStatus, MessageKind, MessageStatus, Priority
from service.scheduling import QuietHours, declared_night, next_allowed, step_window

# Kinds sent because of a plan rather than in answer to the patient: these need consent.
_CONSENTED_KINDS = frozenset({MessageKind.PLAN, MessageKind.CATCH_UP, MessageKind.FALLBACK})


# Kinds that exist because of an enrolment's step: a cancelled enrolment cancels them.
_STEP_KINDS = frozenset({MessageKind.PLAN, MessageKind.FALLBACK})

STOP_CONFIRMED = "stop_confirmation"  # INBOUND's context["compliance"] marker
STALE = "validity window passed before it could be sent"


class Action(StrEnum):
    SEND = "send"
    CANCEL = "cancel"  # will never be sent: opted out, enrolment cancelled
    SKIP = "skip"  # stale or not applicable, with the reason
    FAIL = "fail"  # cannot be sent (no address, no consent)
    HOLD = "hold"  # not now: back to the queue until `until`


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str | None = None
    until: datetime | None = None

    @property
    def status(self) -> MessageStatus:
        return {
            Action.CANCEL: MessageStatus.CANCELLED,
            Action.SKIP: MessageStatus.SKIPPED,
            Action.FAIL: MessageStatus.FAILED,
            Action.HOLD: MessageStatus.SCHEDULED,
        }[self.action]


SEND = Verdict(Action.SEND)


@dataclass(frozen=True)
class Subject:
    """Everything the checks look at, read under the claim's lock."""

    message: Message
    patient: Patient | None
    enrollment: Enrollment | None
    clinic: Clinic
    has_open_alert: bool = False


def to_patient(message: Message) -> bool:
    """Pages go to on-call staff; every other kind is addressed to the patient."""
    return message.kind != MessageKind.PAGE and message.patient_id is not None


def check(subject: Subject, *, now: datetime, hold: timedelta) -> Verdict:
    for rule in (_contact, _enrollment, _validity):
        verdict = rule(subject, now)
        if verdict is not None:
            return verdict
    return _holds(subject, now, hold)


def _contact(subject: Subject, now: datetime) -> Verdict | None:
    message, patient = subject.message, subject.patient
    if not to_patient(message):
        return None
    if patient is None:
        return Verdict(Action.FAIL, "patient record is missing")
    if message.channel == Channel.SMS:
        return _sms_contact(message, patient)
    if patient.email_opted_out_at is not None:
        return Verdict(Action.CANCEL, "patient unsubscribed from email")
    if not (message.to_address or patient.email):
        return Verdict(Action.FAIL, "patient has no email address")
    if message.kind in _CONSENTED_KINDS and patient.email_consent_at is None:
        return Verdict(Action.FAIL, "no email consent recorded")
    return None


def _sms_contact(message: Message, patient: Patient) -> Verdict | None:
    if patient.sms_opted_out_at is not None and not _stop_confirmation(message):
        return Verdict(Action.CANCEL, "patient opted out of SMS")
    if not (message.to_address or patient.phone):
        return Verdict(Action.FAIL, "patient has no phone number")
    if not patient.phone_can_sms:
        return Verdict(Action.FAIL, "patient's number cannot receive SMS")
    if message.kind in _CONSENTED_KINDS and patient.sms_consent_at is None:
        return Verdict(Action.FAIL, "no SMS consent recorded")
    return None


def opt_out_fence(message: Message) -> str | None:
    """The patient's opt-out column that must still be empty when the call starts (see
    `fence`): none for pages, nor for the STOP confirmation itself."""
    if not to_patient(message):
        return None
    if message.channel == Channel.SMS:
        return None if _stop_confirmation(message) else "sms_opted_out_at"
    return "email_opted_out_at"


def _stop_confirmation(message: Message) -> bool:
    """The one text carriers allow after STOP: its confirmation (INBOUND queues exactly one
    per opt-out, deduplicated on the inbound message)."""
    context = message.context or {}
    return message.kind == MessageKind.AUTO_REPLY and context.get("compliance") == STOP_CONFIRMED


def _enrollment(subject: Subject, now: datetime) -> Verdict | None:
    enrollment = subject.enrollment
    if enrollment is None or subject.message.kind not in _STEP_KINDS:
        return None
    if enrollment.status == EnrollmentStatus.CANCELLED:
        return Verdict(Action.CANCEL, "enrolment cancelled")
    return None


def _validity(subject: Subject, now: datetime) -> Verdict | None:
    valid_until = subject.message.valid_until
    if valid_until is not None and now > valid_until:
        return Verdict(Action.SKIP, STALE)
    return None


def _holds(subject: Subject, now: datetime, hold: timedelta) -> Verdict:
    message = subject.message
    enrollment = subject.enrollment
    paused = enrollment is not None and enrollment.status == EnrollmentStatus.PAUSED
    if paused and message.kind == MessageKind.PLAN:
        return _later(message, now + hold, "enrolment paused")
    if subject.has_open_alert and _routine_plan(message):
        return _later(message, now + hold, "held: patient has an open alert")
    allowed = _quiet_hours_end(subject, now)
    if allowed > now:
        return _later(message, allowed, "quiet hours: moved to the end of the window")
    return SEND


def _routine_plan(message: Message) -> bool:
    return message.kind == MessageKind.PLAN and message.priority == Priority.ROUTINE


def _quiet_hours_end(subject: Subject, now: datetime) -> datetime:
    if not to_patient(subject.message) or subject.patient is None:
        return now
    clinic = subject.clinic
    window = step_window(
        subject.message.priority,
        declared_night(subject.message.context),
        quiet=QuietHours(clinic.quiet_start, clinic.quiet_end),
        night=QuietHours(clinic.night_start, clinic.night_end),
    )
    return next_allowed(now, tz=ZoneInfo(subject.patient.timezone), window=window)


def _later(message: Message, until: datetime, reason: str) -> Verdict:
    """Hold until `until`, or skip when that is past the message's validity."""
    if message.valid_until is not None and until > message.valid_until:
        return Verdict(Action.SKIP, f"{reason}; validity ends before then")
    return Verdict(Action.HOLD, reason, until)
