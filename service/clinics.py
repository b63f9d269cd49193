"""A clinic's settings as an operator or its clinic admin changes them: quiet hours and
the night window, the on-call list, the acknowledgement window, the sender and its
rate, the time zone, the reply response time.

Every value is checked before anything changes (a ClinicError names the field); the
clinic row is locked while it changes (two editors one after the other, each seeing
the other's values). Quiet hours and the night window must cover the middle of the
night: an empty window, or one with start and end swapped, would let texts go at 3 am.
The on-call list is replaced as a whole, in the order given (the escalation order),
and an entry that would page nobody (no phone or email, or none for the channel it is
paged by) is refused wherever a list is set (CLI, REST, web). Each change is written
to the audit log with every setting it touched, old and new value. A clinic may have
no list - urgent pages then reach only its main number - and every place that sets
one says so (`missing_warning`). Bringing unsent messages, open alerts and unread
replies up to date is `service.clinic_settings`.
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
    PAGE_BY,
    PAGE_DETAILS,
    ActorType,
    Channel,
)
from service.patients import PatientError, normalise_phone
from service.scheduling import QuietHours

# Quiet hours and the night window must both cover this local time (the middle of the
# night): it refuses an empty window and one whose start and end were swapped.
DEEP_NIGHT = time(3, 0)

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
    page_by: str = "both"  # PAGE_BY: "sms", "email" or "both" (every address given)


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
    """`NAME,PHONE,EMAIL[,PAGE_BY]` (phone or email may be empty, not both; PAGE_BY is
    sms, email or both, the default)."""
    name, phone, email, by = [part.strip() for part in [*entry.split(","), "", "", ""][:4]]
    try:
        person = OnCall(name, phone or None, email or None, by.lower() or "both")
        return check_person(person, region=region)
    except ClinicError as exc:
        raise ClinicError(
            "oncall", f"{entry!r}: {exc.message} (NAME,PHONE,EMAIL[,sms|email|both])"
        ) from None


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
    """One on-call entry that can be paged: a name, and a phone (E.164) or an email, with
    the address its channel needs."""
    name = person.name.strip()
    phone = (person.phone or "").strip()
    email = (person.email or "").strip().lower()
    if not name:
        raise ClinicError("name", "needs a name")
    if not (phone or email):
        raise ClinicError("oncall", f"{name}: give a phone, an email or both (or nobody is paged)")
    if email and not _EMAIL.match(email):
        raise ClinicError("email", f"{name}: {email!r} is not an email address")
    if person.page_by not in PAGE_BY:
        raise ClinicError("page_by", f"{name}: paged by one of {', '.join(PAGE_BY)}")
    if person.page_by == "sms" and not phone:
        raise ClinicError("phone", f"{name}: paged by text, so a mobile phone is needed")
    if person.page_by == "email" and not email:
        raise ClinicError("email", f"{name}: paged by email, so an email address is needed")
    number = _e164(phone, region, "phone") if phone else None
    return OnCall(name[:200], number, email or None, person.page_by)


def missing_warning(clinic: Clinic, count: int) -> str | None:
    """What staff must know when a clinic has nobody on call."""
    if count:
        return None
    return (
        f"{clinic.name} has no on-call list: urgent pages go only to the clinic's main "
        f"number {clinic.contact_phone}. Add at least one person with a mobile phone."
    )


@dataclass(frozen=True)
class SenderRule:
    """Whether this caller may give the clinic a sender number another clinic uses (a
    shared sender: replies are then routed by patient), or the service's default one."""

    may_share: bool = True
    default_sender: str | None = None  # TWILIO_FROM: every clinic without its own uses it


def update_clinic(
    session: Session,
    clinic: Clinic,
    changes: ClinicChanges,
    *,
    actor: str,
    sender_rule: SenderRule | None = None,
) -> dict[str, dict[str, Any]]:
    """Apply `changes` (all checked first, the clinic row locked); returns what changed,
    `{setting: {"from": old, "to": new}}` (as written to the audit log)."""
    session.refresh(clinic, with_for_update=True)
    values = _checked(changes, region=clinic.default_region)
    pacing = {name: values.pop(name) for name in _SENDER_FIELDS if name in values}
    _check_windows(clinic, values)
    if values.get("sms_from") not in (None, clinic.sms_from):
        _check_sender(session, clinic, values["sms_from"], sender_rule or SenderRule())
    people = None
    if changes.oncall is not None:
        people = checked_oncall(changes.oncall, region=clinic.default_region)
    sender = _sender_to_pace(session, clinic, values) if pacing else None
    changed = {
        name: {"from": _shown(getattr(clinic, name)), "to": _shown(value)}
        for name, value in values.items()
        if getattr(clinic, name) != value
    }
    for name in changed:
        setattr(clinic, name, values[name])
    _ensure_senders(session, clinic, list(changed))
    if sender is not None:
        changed |= _pace_sender(session, sender, pacing, actor=actor, clinic=clinic)
    if people is not None:
        before = [_person(row) for row in oncall_list(session, clinic)]
        if before != [_person(person) for person in people]:
            _replace_oncall(session, clinic, people)
            changed["oncall"] = {"from": before, "to": [_person(person) for person in people]}
    if changed:
        session.add(clinic)
        record_audit(session, actor_type=actor_type_of(actor), actor=actor,
                     action="clinic.update", entity_type="clinic", entity_id=clinic.id,
                     clinic_id=clinic.id,
                     detail={"changed": list(changed), "changes": changed})  # fmt: skip
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


def _pace_sender(
    session: Session, sender: Sender, pacing: dict[str, Any], *, actor: str, clinic: Clinic
) -> dict[str, dict[str, Any]]:
    """Set the clinic's own number's rate and burst; what changed, old and new."""
    before = {"rate_per_second": sender.rate_per_second, "burst": sender.burst}
    rate = senders.SenderChanges(
        rate_per_second=pacing.get("sender_rate_per_second"), burst=pacing.get("sender_burst")
    )
    names = senders.update_sender(session, sender, rate, actor=actor, clinic_id=clinic.id,
                                  actor_type=actor_type_of(actor))  # fmt: skip
    return {_AS_CLINIC[name]: {"from": before[name], "to": getattr(sender, name)} for name in names}


def _ensure_senders(session: Session, clinic: Clinic, changed: list[str]) -> None:
    """A new sender number or address gets its row (its kind's default rate) at once,
    so settings pages show the rate it will be paced at."""
    for name, channel in (("sms_from", Channel.SMS), ("email_from", Channel.EMAIL)):
        address = getattr(clinic, name)
        if name in changed and address:
            senders.ensure(session, channel, address)


def actor_type_of(actor: str) -> ActorType:
    """A person ("user:3") or their key ("api_key:7"); anything else ("cli") the system."""
    if actor.startswith("api_key:"):
        return ActorType.API_KEY
    return ActorType.USER if actor.startswith("user:") else ActorType.SYSTEM


def _shown(value: Any) -> Any:
    """A setting as the audit log and the API show it: times as HH:MM."""
    return f"{value:%H:%M}" if isinstance(value, time) else value


def _person(person: OnCall | OnCallRecipient) -> dict[str, Any]:
    return {"name": person.name, "phone": person.phone, "email": person.email,
            "page_by": person.page_by}  # fmt: skip


# Each window's two settings, and what the window is called in an error.
_WINDOWS = (
    ("quiet_start", "quiet_end", "quiet hours"),
    ("night_start", "night_end", "the night window"),
)


def _check_windows(clinic: Clinic, values: dict[str, Any]) -> None:
    """A window being changed must cover DEEP_NIGHT (refusing an empty or swapped one);
    the reply day must start before it ends."""
    for start, end, called in _WINDOWS:
        if start not in values and end not in values:
            continue
        window = QuietHours(values.get(start, getattr(clinic, start)),
                            values.get(end, getattr(clinic, end)))  # fmt: skip
        field = start if start in values else end
        if window.start == window.end:
            raise ClinicError(field, f"{called} cannot be empty (start equals end): texts "
                              "would go at any hour")  # fmt: skip
        if not window.contains(DEEP_NIGHT):
            raise ClinicError(field, f"{called} {window} must cover the night ({DEEP_NIGHT:%H:%M} "
                              "is outside it): are start and end swapped?")  # fmt: skip
    if "reply_day_start" in values or "reply_day_end" in values:
        day_start = values.get("reply_day_start", clinic.reply_day_start)
        day_end = values.get("reply_day_end", clinic.reply_day_end)
        if not day_start < day_end:
            field = "reply_day_end" if "reply_day_end" in values else "reply_day_start"
            raise ClinicError(field, f"the reply day must start before it ends "
                              f"({day_start:%H:%M}-{day_end:%H:%M})")  # fmt: skip


def _check_sender(session: Session, clinic: Clinic, number: str, rule: SenderRule) -> None:
    """Another clinic's sender, or the default one, would route replies away from the
    clinics that use it: only an administrator (or the CLI) may share a sender."""
    if rule.may_share:
        return
    if number == rule.default_sender:
        raise ClinicError("sms_from", "is the service's default sender, shared by every clinic "
                          "without its own: ask an administrator")  # fmt: skip
    query = select(Clinic.id).where(Clinic.sms_from == number, Clinic.id != clinic.id)
    if session.exec(query).first() is not None:
        raise ClinicError("sms_from", "is another clinic's sender number: ask an administrator "
                          "to share it")  # fmt: skip


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
                                    phone=person.phone, email=person.email,
                                    page_by=person.page_by))  # fmt: skip
    session.flush()
