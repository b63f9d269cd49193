"""A clinic's settings as an operator changes them: quiet hours and the night window,
the on-call list, the acknowledgement window, the sender and its rate, the time zone.

Every value is checked before anything changes (a ClinicError names the field); the
on-call list is replaced as a whole, in the order given (the escalation order), and an
entry with neither a phone nor an email (it would page nobody) is refused wherever a
list is set (CLI, REST, web); each change is written to the audit log with the fields
it touched. A clinic may have no list - urgent pages then reach only its main number -
and every place that sets one says so (`missing_warning`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import time
from typing import Any

from sqlmodel import Session, col, select

from service import senders
from service.audit import record_audit
from service.config import validate_timezone
from service.db.models import Clinic, OnCallRecipient, Sender
from service.domain import (
    CLINIC_NAME_MAX,
    EMERGENCY_PHONE_DIGITS,
    PAGE_DETAILS,
    ActorType,
    Channel,
)
from service.patients import PatientError, normalise_phone

_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


class ClinicError(ValueError):
    """An invalid clinic setting; `field` is the setting, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class OnCall:
    name: str
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class ClinicChanges:
    """The settings to change; None leaves a setting as it is."""

    name: str | None = None
    contact_phone: str | None = None
    emergency_phone: str | None = None
    timezone: str | None = None
    sms_from: str | None = None
    email_from: str | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    night_start: time | None = None
    night_end: time | None = None
    # The clinic's own number's rate and burst (`service.senders`): not the service's
    # default number's, nor one other clinics share (an operator sets those).
    sender_rate_per_second: float | None = None
    sender_burst: int | None = None
    alert_ack_minutes: int | None = None
    phone_24h: bool | None = None  # the clinic answers contact_phone day and night
    reply_response_minutes: int | None = None  # replies inbox: an unread reply is due...
    reply_day_start: time | None = None  # ...this long after it came in by day
    reply_day_end: time | None = None
    reply_night_due: time | None = None  # ...and by this time the next morning otherwise
    page_detail: str | None = None  # "full" or "minimal" on-call page texts
    oncall: list[OnCall] | None = None


def find_clinic(session: Session, ref: str) -> Clinic | None:
    """A clinic by slug or by id."""
    by_id = int(ref) if ref.isdigit() else -1
    query = select(Clinic).where((col(Clinic.slug) == ref) | (col(Clinic.id) == by_id))
    return session.exec(query).first()


def oncall_list(session: Session, clinic: Clinic) -> list[OnCallRecipient]:
    query = select(OnCallRecipient).where(OnCallRecipient.clinic_id == clinic.id)
    return list(session.exec(query.order_by(col(OnCallRecipient.position))).all())


def parse_oncall(entry: str, *, region: str) -> OnCall:
    """`NAME,PHONE,EMAIL` (phone or email may be empty, not both)."""
    name, phone, email = [part.strip() for part in [*entry.split(","), "", ""][:3]]
    try:
        return check_person(OnCall(name, phone or None, email or None), region=region)
    except ClinicError as exc:
        raise ClinicError("oncall", f"{entry!r}: {exc.message} (NAME,PHONE,EMAIL)") from None


def checked_oncall(people: Sequence[OnCall], *, region: str) -> list[OnCall]:
    """Every entry checked and normalised, in order. A ClinicError's field names the
    entry: `oncall.<index>` (0-based), with `.name`, `.phone` or `.email` when it is one."""
    checked = []
    for index, person in enumerate(people):
        try:
            checked.append(check_person(person, region=region))
        except ClinicError as exc:
            part = "" if exc.field == "oncall" else f".{exc.field}"
            raise ClinicError(f"oncall.{index}{part}", exc.message) from None
    return checked


def check_person(person: OnCall, *, region: str) -> OnCall:
    """One on-call entry that can be paged: a name, and a phone (E.164) or an email."""
    name = person.name.strip()
    phone = (person.phone or "").strip()
    email = (person.email or "").strip().lower()
    if not name:
        raise ClinicError("name", "needs a name")
    if not (phone or email):
        raise ClinicError("oncall", f"{name}: give a phone, an email or both (or nobody is paged)")
    if email and not _EMAIL.match(email):
        raise ClinicError("email", f"{name}: {email!r} is not an email address")
    return OnCall(name[:200], _e164(phone, region, "phone") if phone else None, email or None)


def missing_warning(clinic: Clinic, count: int) -> str | None:
    """What staff must know when a clinic has nobody on call."""
    if count:
        return None
    return (
        f"{clinic.name} has no on-call list: urgent pages go only to the clinic's main "
        f"number {clinic.contact_phone}. Add at least one person with a mobile phone."
    )


def update_clinic(
    session: Session, clinic: Clinic, changes: ClinicChanges, *, actor: str
) -> list[str]:
    """Apply `changes` (all checked first); returns the names of the settings changed."""
    values = _checked(changes, region=clinic.default_region)
    pacing = {name: values.pop(name) for name in _SENDER_FIELDS if name in values}
    people = None
    if changes.oncall is not None:
        people = checked_oncall(changes.oncall, region=clinic.default_region)
    sender = _sender_to_pace(session, clinic, values) if pacing else None
    changed = [name for name, value in values.items() if getattr(clinic, name) != value]
    for name in changed:
        setattr(clinic, name, values[name])
    _ensure_senders(session, clinic, changed)
    if sender is not None:
        rate = senders.SenderChanges(
            rate_per_second=pacing.get("sender_rate_per_second"), burst=pacing.get("sender_burst")
        )
        names = senders.update_sender(session, sender, rate, actor=actor, clinic_id=clinic.id)
        changed += [_AS_CLINIC[name] for name in names]
    if people is not None:
        _replace_oncall(session, clinic, people)
        changed.append("oncall")
    if changed:
        session.add(clinic)
        record_audit(session, actor_type=ActorType.SYSTEM, actor=actor, action="clinic.update",
                     entity_type="clinic", entity_id=clinic.id, clinic_id=clinic.id,
                     detail={"changed": changed})  # fmt: skip
    return changed


# Sender settings a clinic changes (on its own number), as ClinicChanges names them.
_SENDER_FIELDS = ("sender_rate_per_second", "sender_burst")
_AS_CLINIC = {"rate_per_second": "sender_rate_per_second", "burst": "sender_burst"}


def _sender_to_pace(session: Session, clinic: Clinic, values: dict[str, Any]) -> Sender:
    """The clinic's own number (as it will be after `values`), whose rate it may set."""
    sms_from = values.get("sms_from", clinic.sms_from)
    address = sms_from or clinic.messaging_service_sid
    try:
        return senders.own_sender_to_set(session, clinic.id, address)
    except senders.SenderError as exc:
        raise ClinicError(exc.field, exc.message) from None


def _ensure_senders(session: Session, clinic: Clinic, changed: list[str]) -> None:
    """A new sender number or address gets its row (its kind's default rate) at once,
    so settings pages show the rate it will be paced at."""
    for name, channel in (("sms_from", Channel.SMS), ("email_from", Channel.EMAIL)):
        address = getattr(clinic, name)
        if name in changed and address:
            senders.ensure(session, channel, address)


def _checked(changes: ClinicChanges, *, region: str) -> dict[str, Any]:
    values = {f.name: getattr(changes, f.name) for f in fields(changes) if f.name != "oncall"}
    values = {name: value for name, value in values.items() if value is not None}
    if "name" in values and not values["name"].strip():
        raise ClinicError("name", "must not be empty")
    if "name" in values and len(values["name"].strip()) > CLINIC_NAME_MAX:
        raise ClinicError("name", f"at most {CLINIC_NAME_MAX} characters (every text names it)")
    emergency = values.get("emergency_phone")
    low, high = EMERGENCY_PHONE_DIGITS
    if emergency is not None and not (emergency.isdigit() and low <= len(emergency) <= high):
        raise ClinicError("emergency_phone", f"{emergency!r}: {low} to {high} digits (911, 112)")
    if "timezone" in values:
        try:
            validate_timezone(values["timezone"])
        except ValueError as exc:
            raise ClinicError("timezone", str(exc)) from None
    for name in ("contact_phone", "sms_from"):
        if name in values:
            values[name] = _e164(values[name], region, name)
    if "email_from" in values and "@" not in values["email_from"]:
        raise ClinicError("email_from", f"{values['email_from']!r} is not an email address")
    try:
        if "sender_rate_per_second" in values:
            senders.check_rate(values["sender_rate_per_second"])
    except senders.SenderError:
        raise ClinicError("sender_rate_per_second", f"must be above 0 and at most "
                          f"{senders.RATE_MAX:g} (messages per second)") from None  # fmt: skip
    burst = values.get("sender_burst")
    if burst is not None and not 1 <= burst <= senders.BURST_MAX:
        raise ClinicError("sender_burst", f"must be between 1 and {senders.BURST_MAX}")
    for name in ("alert_ack_minutes", "reply_response_minutes"):
        minutes = values.get(name)
        if minutes is not None and not 1 <= minutes <= 1440:
            raise ClinicError(name, "must be between 1 and 1440")
    if values.get("page_detail") not in (None, *PAGE_DETAILS):
        raise ClinicError("page_detail", f"one of {', '.join(PAGE_DETAILS)}")
    return values


def _e164(raw: str, region: str, field: str) -> str:
    try:
        number, _ = normalise_phone(raw, region=region)
    except PatientError as exc:
        raise ClinicError(field, exc.message) from None
    return number


def _replace_oncall(session: Session, clinic: Clinic, people: list[OnCall]) -> None:
    for old in oncall_list(session, clinic):
        session.delete(old)
    session.flush()
    assert clinic.id is not None
    for position, person in enumerate(people):
        session.add(OnCallRecipient(clinic_id=clinic.id, position=position, name=person.name,
                                    phone=person.phone, email=person.email))  # fmt: skip
    session.flush()
