"""Scheduling maths: plan offsets on the patient's local calendar, quiet hours, pacing.

Pure: no I/O, no database. Every function takes and returns timezone-aware datetimes;
results are UTC.

How local wall times resolve (deterministic, and the same everywhere in the service):

- Calendar offsets ("1d", "2w", "6mo", optionally "at HH:MM") move along the patient's
  local calendar, not by multiples of 24 hours: "1d at 10:00" is 10:00 local on the next
  calendar day whether or not a DST change lies in between, and "1d" without a time keeps
  the procedure's local wall-clock time. Months clamp to the month's last day (31 Jan +
  1mo = 28/29 Feb). Hour and minute offsets ("4h") are elapsed time, added after the
  calendar part.
- A wall time that does not exist (the spring-forward gap) moves forward by the length of
  the gap: 02:30 on a New York spring-forward day becomes 03:30 EDT. This is PEP 495's
  `fold=0` reading (the offset in force before the transition), so a message is never
  sent before the wall time the plan asked for.
- A wall time that happens twice (fall back) takes the earlier instant (`fold=0`): 01:30
  on a New York fall-back day is 01:30 EDT (05:30 UTC), not 01:30 EST.

Quiet hours are a local window [start, end) that may wrap midnight (20:00-08:00). An
instant whose local wall time is inside the window moves to the window's end on the
right local day, resolved with the same rules. A window whose start equals its end is
empty (no quiet hours).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from service.domain import Priority

if TYPE_CHECKING:
    from service.plans.model import Offset


@dataclass(frozen=True)
class QuietHours:
    """A local wall-clock window [start, end); wraps midnight when start > end."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """ "23:00-07:00" (as stored in a message's context under NIGHT_WINDOW_KEY)."""
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, wall: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end


# A plan row whose step declares its own night edges carries them in `message.context`
# under this key, so the dispatcher's quiet-hours re-check uses the same window.
NIGHT_WINDOW_KEY = "night_window"


def declared_night(context: Mapping[str, object] | None) -> tuple[time, time] | None:
    """The night edges a plan step declared for a row (its context's NIGHT_WINDOW_KEY);
    None when it declared none or they cannot be read (the clinic's night applies, the
    safe side)."""
    declared = (context or {}).get(NIGHT_WINDOW_KEY)
    if not isinstance(declared, str):
        return None
    try:
        window = QuietHours.parse(declared)
    except ValueError:
        return None
    return window.start, window.end


def window_for(
    priority: Priority | str, *, quiet: QuietHours, night: QuietHours
) -> QuietHours | None:
    """ROUTINE messages avoid quiet hours, SAFETY ones only the night, URGENT nothing."""
    priority = Priority(priority)
    if priority == Priority.ROUTINE:
        return quiet
    if priority == Priority.SAFETY:
        return night
    return None


def step_window(
    priority: Priority | str,
    night_override: tuple[time, time] | None,
    *,
    quiet: QuietHours,
    night: QuietHours,
) -> QuietHours | None:
    """`window_for`, except that a step declaring its own night (the first safety message
    after a procedure) uses those edges."""
    if night_override is not None and Priority(priority) == Priority.SAFETY:
        return QuietHours(*night_override)
    return window_for(priority, quiet=quiet, night=night)


def resolve_wall(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local `wall` on `day`: gaps move forward, repeats take the earlier."""
    local = datetime.combine(day, wall.replace(tzinfo=None, fold=0), tzinfo=tz)
    return local.astimezone(UTC)


def next_allowed(instant: datetime, *, tz: ZoneInfo, window: QuietHours | None) -> datetime:
    """`instant` itself (in UTC) if outside `window`, else the window's end, DST-correct."""
    instant = _aware(instant).astimezone(UTC)
    if window is None:
        return instant
    local = instant.astimezone(tz)
    wall = local.time().replace(tzinfo=None)
    if not window.contains(wall):
        return instant
    day = local.date()
    if window.start > window.end and wall >= window.start:
        day += timedelta(days=1)  # evening part of a window that wraps midnight
    end = resolve_wall(day, window.end, tz)
    # A window end inside a DST gap resolves later than asked, never earlier; the max
    # guards the one odd case where the resolved end would precede the instant.
    return max(end, instant)


@lru_cache(maxsize=16384)
def window_starts_after(instant: datetime, tz: ZoneInfo, window: QuietHours) -> datetime:
    """The first instant after `instant` at which `window` begins (UTC): how far a
    batch may be spread from an allowed instant before it runs into quiet hours."""
    local = _aware(instant).astimezone(tz)
    start = resolve_wall(local.date(), window.start, tz)
    if start <= instant:
        start = resolve_wall(local.date() + timedelta(days=1), window.start, tz)
    return start


def add_months(day: date, months: int) -> date:
    """Calendar month arithmetic, clamped to the target month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def local_due(procedure_at: datetime, offset: Offset, *, tz: ZoneInfo) -> datetime:
    """When an offset from the procedure falls, counted on the patient's local calendar (UTC)."""
    local = _aware(procedure_at).astimezone(tz)
    calendar_days = offset.days + 7 * offset.weeks
    if calendar_days or offset.months or offset.at is not None:
        day = add_months(local.date(), offset.months) + timedelta(days=calendar_days)
        wall = offset.at if offset.at is not None else local.time().replace(tzinfo=None)
        base = resolve_wall(day, wall, tz)
    else:
        base = local.astimezone(UTC)
    return base + timedelta(hours=offset.hours, minutes=offset.minutes)


def planned_time(
    procedure_at: datetime, offset: Offset, *, tz: ZoneInfo, window: QuietHours | None
) -> datetime:
    """`local_due` moved out of `window`: when a step may first go (UTC).

    Offsets with a wall-clock time depend only on the procedure's local date, so the
    result is memoised on (date, offset, zone, window): a batch of patients operated on
    the same days computes each send time once.
    """
    if offset.at is None:
        return next_allowed(local_due(procedure_at, offset, tz=tz), tz=tz, window=window)
    return _planned_on(_aware(procedure_at).astimezone(tz).date(), offset, tz, window)


@lru_cache(maxsize=16384)
def _planned_on(day: date, offset: Offset, tz: ZoneInfo, window: QuietHours | None) -> datetime:
    anchor = resolve_wall(day, time(12, 0), tz)  # any instant on that local day will do
    return next_allowed(local_due(anchor, offset, tz=tz), tz=tz, window=window)


def shift_local_days(instant: datetime, days: int, *, tz: ZoneInfo) -> datetime:
    """The same local wall time `days` calendar days later (UTC), e.g. for the daily cap."""
    local = _aware(instant).astimezone(tz)
    return resolve_wall(local.date() + timedelta(days=days), local.time(), tz)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return _aware(instant).astimezone(tz).date()


def pace(
    due: Sequence[datetime],
    *,
    rate_per_second: float,
    already: Mapping[datetime, int] | None = None,
) -> list[datetime]:
    """Spread sends that share a due instant so a sender never exceeds its rate.

    The k-th send due at the same instant goes k/rate seconds later, where k also counts
    `already` (sends queued earlier for that instant, which the caller gets from one
    GROUP BY). Linear, no sorting: the caller's order decides who goes first.
    """
    if rate_per_second <= 0:
        raise ValueError("rate_per_second must be positive")
    counts: dict[datetime, int] = dict(already or {})
    step = 1.0 / rate_per_second
    result = []
    for instant in due:
        k = counts.get(instant, 0)
        counts[instant] = k + 1
        result.append(instant + timedelta(seconds=k * step) if k else instant)
    return result


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: scheduling needs a timezone-aware instant")
    return value
