"""What a plan is: steps at offsets from the procedure, pure data, no I/O.

An offset is counted on the patient's local calendar (the maths lives in
`service.scheduling.local_due`): months first (clamped to the month's end), then weeks
and days; then either the wall-clock time `at` on that day, or hours and minutes added
to the procedure's local time. "1d at 10:00" is 10:00 the next day; "4h" is four hours
after the procedure.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from service.domain import Channel, Priority
from service.plans.red_flags import RedFlagItem, RedFlags


class PlanError(ValueError):
    """A plan or one of its steps is invalid; the message names the plan, step and field."""


class UnknownPlan(PlanError):
    """No plan with that key exists in the catalog."""


class UnknownLanguage(PlanError):
    """A plan has no messages in the language asked for (the message lists those it has)."""


_UNITS = {"mo": "months", "w": "weeks", "d": "days", "h": "hours", "min": "minutes"}
_PART = re.compile(r"(\d+)\s*(mo|min|w|d|h)")
_OFFSET = re.compile(r"^\s*((?:\d+\s*(?:mo|min|w|d|h)\s*)+)(?:at\s+(\d{1,2}):(\d{2}))?\s*$")


@dataclass(frozen=True)
class Offset:
    """A distance from the procedure on the patient's local calendar."""

    days: int = 0
    weeks: int = 0
    months: int = 0
    hours: int = 0
    minutes: int = 0
    at: datetime.time | None = None  # local wall-clock time on the target day

    def __str__(self) -> str:
        parts = [
            f"{value}{unit}" for unit, name in _UNITS.items() if (value := getattr(self, name))
        ] or ["0d"]
        text = " ".join(parts)
        return f"{text} at {self.at:%H:%M}" if self.at is not None else text

    @property
    def nominal_days(self) -> float:
        """Approximate distance in days (a month counts 30): for ordering and limits only."""
        hours = self.hours + self.minutes / 60
        if self.at is not None:
            hours += self.at.hour + self.at.minute / 60
        return self.months * 30 + self.weeks * 7 + self.days + hours / 24

    @property
    def calendar_days(self) -> int:
        """Whole local days after the procedure day (months count 30)."""
        extra_days = (self.hours + self.minutes // 60) // 24
        return self.months * 30 + self.weeks * 7 + self.days + extra_days

    @property
    def is_whole_days(self) -> bool:
        """True for "14d"-style offsets (no time of day, no hours or minutes)."""
        return self.at is None and not self.hours and not self.minutes

    def plus(self, other: Offset, times: int = 1) -> Offset:
        """This offset moved on by `times` x `other` (keeps this offset's `at`)."""
        return Offset(
            days=self.days + other.days * times,
            weeks=self.weeks + other.weeks * times,
            months=self.months + other.months * times,
            hours=self.hours + other.hours * times,
            minutes=self.minutes + other.minutes * times,
            at=self.at,
        )


def parse_offset(text: str) -> Offset:
    """Parse "4h", "1d at 10:00", "2w at 18:00", "6mo", "1w 2d", "0d at 18:00".

    Units: mo (months), w, d, h, min. "at HH:MM" needs a day-based offset (no h/min).
    """
    if not isinstance(text, str):
        raise PlanError(f"offset {text!r} must be text such as '1d at 10:00' (quote it in YAML)")
    match = _OFFSET.match(text.lower())
    if match is None:
        raise PlanError(f"bad offset {text!r}: use e.g. '4h', '1d at 10:00', '2w at 18:00', '6mo'")
    values: dict[str, int] = {}
    for number, unit in _PART.findall(match.group(1)):
        name = _UNITS[unit]
        if name in values:
            raise PlanError(f"bad offset {text!r}: unit {unit!r} given twice")
        values[name] = int(number)
    at = _parse_at(text, match.group(2), match.group(3))
    if at is not None and (values.get("hours") or values.get("minutes")):
        raise PlanError(f"bad offset {text!r}: 'at HH:MM' cannot be combined with h or min")
    return Offset(at=at, **values)


def _parse_at(text: str, hour: str | None, minute: str | None) -> datetime.time | None:
    if hour is None or minute is None:
        return None
    if int(hour) > 23 or int(minute) > 59:
        raise PlanError(f"bad offset {text!r}: {hour}:{minute} is not a time of day")
    return datetime.time(int(hour), int(minute))


DEFAULT_REPLY_WINDOW = datetime.timedelta(hours=24)


def parse_duration(text: str) -> datetime.timedelta:
    """A validity window such as "2d", "12h", "1w": fixed length, no months, no 'at'."""
    offset = parse_offset(text)
    if offset.months or offset.at is not None:
        raise PlanError(f"bad duration {text!r}: use w, d, h or min (no months, no 'at')")
    delta = datetime.timedelta(
        weeks=offset.weeks, days=offset.days, hours=offset.hours, minutes=offset.minutes
    )
    if delta <= datetime.timedelta(0):
        raise PlanError(f"bad duration {text!r}: must be longer than zero")
    return delta


@dataclass(frozen=True)
class Step:
    """One message of a plan (possibly repeated), sent on one or more channels."""

    key: str
    offset: Offset
    valid_for: datetime.timedelta  # past due+valid_for: skipped, never sent late
    channels: tuple[Channel, ...]  # (SMS,), (EMAIL,), (SMS, EMAIL)
    fallback: Channel | None = None  # e.g. EMAIL when "sms with email fallback"
    priority: Priority = Priority.ROUTINE  # ROUTINE or SAFETY
    repeat_every: Offset | None = None  # e.g. every 3d ...
    repeat_until: Offset | None = None  # ... until 14d (inclusive)
    condition: str | None = None  # "has_email" | "has_phone" | None
    expects_reply: bool = False  # check-in
    vars: Mapping[str, str] = field(default_factory=dict)  # step-specific template values
    title: str = ""  # a line for staff (plans show, timeline)
    # The warning signs this step's SMS must carry when not all of them (None: all, for
    # safety steps), and why; a routine step may declare signs it must carry too.
    red_flags: tuple[str, ...] | None = None
    red_flags_why: str = ""
    # The first safety message after the procedure may declare narrower night edges
    # (e.g. 23:00-07:00) so that its same-day content is not held until the morning.
    night: tuple[datetime.time, datetime.time] | None = None
    # Until when (from the procedure) the text's advice is true, e.g. "stay upright for
    # 4 hours" only within 4h: past it the step is never sent, whatever `valid_for` says.
    true_until: Offset | None = None

    def occurrences(self) -> list[Occurrence]:
        """This step's planned sends: the first, then every repeat up to `repeat_until`."""
        if self.repeat_every is None or self.repeat_until is None:
            return [Occurrence(step=self, index=0, offset=self.offset)]
        until = self.repeat_until
        # "until 14d" includes all of day 14; "until 36h" is an exact instant.
        limit = until.calendar_days + 1 - 1e-9 if until.is_whole_days else until.nominal_days
        result: list[Occurrence] = []
        offset = self.offset
        while offset.nominal_days <= limit + 1e-9 and len(result) < MAX_REPEATS:
            result.append(Occurrence(step=self, index=len(result), offset=offset))
            offset = self.offset.plus(self.repeat_every, len(result))
        return result


MAX_REPEATS = 60  # a guard: a plan is a programme, not a firehose
CONDITIONS = frozenset({"has_email", "has_phone"})


@dataclass(frozen=True)
class Occurrence:
    """One planned send of a step (index 0 is the first, then the repeats)."""

    step: Step
    index: int
    offset: Offset


@dataclass(frozen=True)
class Plan:
    """A versioned programme of messages for one procedure, with its template sources."""

    key: str
    version: int
    title: str
    procedure: str
    languages: tuple[str, ...]  # ("en", "es")
    steps: tuple[Step, ...]
    templates: Mapping[str, str]  # template name -> source (incl. partials used)
    sha256: str
    red_flag_items: tuple[RedFlagItem, ...] = ()  # each sign with its route
    red_flags: Mapping[str, RedFlags] = field(default_factory=dict)  # language -> view
    definition: Mapping[str, object] = field(default_factory=dict)  # the source data
    # A reply from a number several patients share is taken to answer the latest message
    # sent on it within this window (the plan's `reply_window`, e.g. "2d").
    reply_window: datetime.timedelta = DEFAULT_REPLY_WINDOW

    def step(self, key: str) -> Step:
        for step in self.steps:
            if step.key == key:
                return step
        raise PlanError(f"plan {self.key!r} v{self.version} has no step {key!r}")

    def occurrences(self) -> list[Occurrence]:
        """Every planned send, repeats expanded, in plan order (step by step)."""
        return [occ for step in self.steps for occ in step.occurrences()]

    def red_flag(self, key: str) -> RedFlagItem:
        for item in self.red_flag_items:
            if item.key == key:
                return item
        raise PlanError(f"plan {self.key!r} v{self.version} has no warning sign {key!r}")

    def check_language(self, language: str) -> None:
        """UnknownLanguage unless the plan has messages in `language`: a patient must
        never silently get another language than the one staff chose."""
        if language not in self.languages:
            raise UnknownLanguage(
                f"plan {self.key!r} has no messages in {language!r} "
                f"(available: {', '.join(self.languages)})"
            )


def template_name(plan_key: str, step_key: str, channel: Channel, language: str) -> str:
    """The template file of one step on one channel in one language.

    `<plan>/<step>.<channel>.<lang>.j2`. An email template defines two blocks,
    `subject` and `text`; its HTML part is the shared, autoescaped layout around them.
    """
    return f"{plan_key}/{step_key}.{channel.value}.{language}.j2"


EMAIL_BLOCKS = ("subject", "text")
