"""When an unread reply is due for a person's answer: the clinic's response time. Pure.

By day (between the clinic's `reply_day_start` and `reply_day_end`, clinic time) a reply
is due `reply_response_minutes` after it came in. One that cannot be answered before the
day ends - it came in late in the day, at night or before the day starts - is due at
`reply_night_due` the next morning (the same morning for one that came in after
midnight). So a late reply opens its task and pages in the morning, never at night: an
urgent one has already paged at once through its alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from service.scheduling import resolve_wall


@dataclass(frozen=True)
class ResponseTime:
    within: timedelta = timedelta(hours=4)
    day_start: time = time(8, 0)
    day_end: time = time(20, 0)
    night_due: time = time(10, 0)


def response_due(received_at: datetime, *, tz: ZoneInfo, rule: ResponseTime) -> datetime:
    """The UTC instant a reply received at `received_at` is due (DST-correct)."""
    local = received_at.astimezone(tz)
    wall = local.time().replace(tzinfo=None)
    day = local.date()
    if wall < rule.day_start:
        return resolve_wall(day, rule.night_due, tz)
    due = received_at + rule.within
    if wall < rule.day_end and due <= resolve_wall(day, rule.day_end, tz):
        return due
    return resolve_wall(day + timedelta(days=1), rule.night_due, tz)
