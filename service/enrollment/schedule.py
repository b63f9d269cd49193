"""From a plan and a procedure time to planned sends: pure, no database.

One `Planned` per (step, occurrence, channel). Channel rules, in order:
- a step `condition` ("has_email" / "has_phone") the patient does not meet: every channel
  of that step is recorded skipped with the reason;
- a channel the patient cannot use (no address, no consent, opted out, landline for SMS)
  goes to the step's fallback channel when it has one the patient can use (a safety
  step always falls back to email), else it is recorded skipped with the reason.

Times: `due_at` = `local_due` (patient's calendar) moved out of the priority's quiet
window; `valid_until` = due_at + step.valid_for (counted from the moved time, so a step
pushed to 08:00 by quiet hours is not already stale when it may first go). A step
whose validity has passed at enrolment is skipped ("late"); one still valid but due in
the past goes at the next allowed moment from `now`. A step whose advice is only true for
a while (`true_until`, e.g. 4h after the procedure) is never valid past that, and is
skipped as late when quiet hours would move it past that.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from service.domain import Channel, MessageStatus, Priority
from service.plans.model import Occurrence, Plan, Step
from service.scheduling import QuietHours, local_due, next_allowed, planned_time, window_for

# Reason prefix of a send skipped because its time had passed when it was planned (a
# late enrolment, a procedure date moved into the past): staff pages count these.
TOO_LATE = "too late to be useful"


class PatientLike(Protocol):
    """What enrolment reads of a patient: an ORM `Patient` or the bulk path's `PatientRow`."""

    @property
    def id(self) -> int | None: ...
    @property
    def clinic_id(self) -> int: ...
    @property
    def first_name(self) -> str: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def phone_can_sms(self) -> bool: ...
    @property
    def email(self) -> str | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def sms_consent_at(self) -> datetime | None: ...
    @property
    def email_consent_at(self) -> datetime | None: ...
    @property
    def sms_opted_out_at(self) -> datetime | None: ...
    @property
    def email_opted_out_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Recipient:
    """What scheduling needs to know about a patient (no contact details)."""

    tz: ZoneInfo
    has_phone: bool
    has_email: bool
    sms_blocked: str | None  # why SMS cannot be used, or None
    email_blocked: str | None

    def blocked(self, channel: Channel) -> str | None:
        return self.sms_blocked if channel == Channel.SMS else self.email_blocked


@dataclass(frozen=True)
class Windows:
    quiet: QuietHours
    night: QuietHours

    def for_priority(
        self, priority: Priority, night: QuietHours | None = None
    ) -> QuietHours | None:
        """The window a send must avoid; `night`: a step's own night edges (safety only)."""
        # `window_for`'s answers without its enum round trip (pacing asks once per row).
        if priority == Priority.ROUTINE:
            return self.quiet
        if priority == Priority.SAFETY:
            return self.night if night is None else night
        if priority == Priority.URGENT:
            return None
        return window_for(priority, quiet=self.quiet, night=self.night)  # raises: unknown


@dataclass(slots=True)
class Planned:
    step_key: str
    occurrence: int
    channel: Channel
    fallback: Channel | None
    priority: Priority
    due_at: datetime
    next_attempt_at: datetime
    valid_until: datetime
    status: MessageStatus = MessageStatus.SCHEDULED
    reason: str | None = None
    late: bool = False  # skipped because its validity had passed
    night: QuietHours | None = None  # the step's own night edges (first safety message)

    def skipped(self, reason: str, *, late: bool = False) -> Planned:
        return replace(self, status=MessageStatus.SKIPPED, reason=reason, late=late)

    def at(self, next_attempt_at: datetime) -> Planned:
        """A copy with another `next_attempt_at` (pacing); built directly, not `replace`d,
        because pacing moves most SMS rows of a batch."""
        return Planned(
            self.step_key,
            self.occurrence,
            self.channel,
            self.fallback,
            self.priority,
            self.due_at,
            next_attempt_at,
            self.valid_until,
            self.status,
            self.reason,
            self.late,
            self.night,
        )


def plan_schedule(
    plan: Plan,
    *,
    procedure_at: datetime,
    recipient: Recipient,
    windows: Windows,
    now: datetime,
) -> list[Planned]:
    """Every planned send of `plan` for one patient, in plan order."""
    result: list[Planned] = []
    for occ in _occurrences(plan):
        base = _timed(occ, procedure_at=procedure_at, recipient=recipient, windows=windows)
        for planned in _channels(occ.step, base, recipient):
            result.append(_against_now(planned, recipient=recipient, windows=windows, now=now))
    return result


_OCCURRENCES: dict[str, tuple[Occurrence, ...]] = {}


def _occurrences(plan: Plan) -> tuple[Occurrence, ...]:
    """Repeats expanded once per plan content (sha256), not once per patient."""
    found = _OCCURRENCES.get(plan.sha256)
    if found is None:
        found = _OCCURRENCES[plan.sha256] = tuple(plan.occurrences())
    return found


def _timed(
    occ: Occurrence, *, procedure_at: datetime, recipient: Recipient, windows: Windows
) -> Planned:
    step = occ.step
    night = QuietHours(*step.night) if step.night is not None else None
    window = windows.for_priority(step.priority, night)
    due = planned_time(procedure_at, occ.offset, tz=recipient.tz, window=window)
    planned = Planned(
        step_key=step.key,
        occurrence=occ.index,
        channel=step.channels[0],
        fallback=step.fallback,
        priority=step.priority,
        due_at=due,
        next_attempt_at=due,
        valid_until=due + step.valid_for,
        night=night,
    )
    if step.true_until is None:
        return planned
    true_until = local_due(procedure_at, step.true_until, tz=recipient.tz)
    if true_until <= due:  # e.g. moved past its hours by the night window
        return planned.skipped(f"{TOO_LATE}: its advice is only true until {step.true_until} "
                               "after the procedure", late=True)  # fmt: skip
    return replace(planned, valid_until=min(planned.valid_until, true_until))


def _channels(step: Step, base: Planned, recipient: Recipient) -> list[Planned]:
    unmet = _unmet_condition(step, recipient)
    if unmet is None and len(step.channels) == 1 and recipient.blocked(base.channel) is None:
        fallback = _fallback_for(step, base.channel)
        return [base if fallback == base.fallback else replace(base, fallback=fallback)]
    result = []
    for channel in step.channels:
        planned = replace(base, channel=channel, fallback=_fallback_for(step, channel))
        blocked = unmet or recipient.blocked(channel)
        if blocked is None:
            result.append(planned)
            continue
        fallback = _when_blocked(step)
        usable = fallback is not None and recipient.blocked(fallback) is None
        if fallback is not None and unmet is None and usable and fallback not in step.channels:
            reason = f"{channel} unavailable ({blocked}): sent by {fallback} instead"
            result.append(replace(planned, channel=fallback, fallback=None, reason=reason))
            continue
        result.append(planned.skipped(f"{channel} not sent: {blocked}"))
    return result


def _when_blocked(step: Step) -> Channel | None:
    """The channel a step uses when its own is blocked: the plan's fallback, and for a
    safety step email in any case (red flags must not be lost with the texts)."""
    if step.fallback is None and step.priority == Priority.SAFETY:
        return Channel.EMAIL
    return step.fallback


def _fallback_for(step: Step, channel: Channel) -> Channel | None:
    fallback = step.fallback
    return fallback if fallback is not None and fallback != channel else None


def _unmet_condition(step: Step, recipient: Recipient) -> str | None:
    if step.condition == "has_email" and not recipient.has_email:
        return "step condition has_email: the patient has no email address"
    if step.condition == "has_phone" and not recipient.has_phone:
        return "step condition has_phone: the patient has no phone number"
    return None


def _against_now(
    planned: Planned, *, recipient: Recipient, windows: Windows, now: datetime
) -> Planned:
    """Late enrolment: stale steps are skipped; still-valid past ones go as soon as allowed."""
    if planned.status != MessageStatus.SCHEDULED or planned.due_at >= now:
        return planned
    if planned.valid_until <= now:
        reason = (
            f"{TOO_LATE}: its validity ended before it was planned (due "
            f"{planned.due_at:%Y-%m-%d %H:%M}Z, valid until {planned.valid_until:%Y-%m-%d %H:%M}Z)"
        )
        return planned.skipped(reason, late=True)
    window = windows.for_priority(planned.priority, planned.night)
    at = next_allowed(now, tz=recipient.tz, window=window)
    if at >= planned.valid_until:
        return planned.skipped(f"{TOO_LATE}: its validity ends before quiet hours do", late=True)
    return replace(planned, next_attempt_at=at)
