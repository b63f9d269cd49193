"""Limits across a patient's enrolments: merging identical messages and the daily cap.

Pure. Both work per patient and per channel on the patient's local calendar day:
- *merge*: the same step of the same plan on the same channel and local day, already
  planned by another enrolment (two procedures on one plan), is not sent twice: the new
  row is recorded skipped with "merged with message N";
- *daily cap*: at most `cap` messages per channel per local day. Routine messages over
  the cap move to the same wall time on the next day that has room, while they are still
  valid; otherwise they are skipped with the reason. Safety messages count towards the
  cap but are never moved or skipped by it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from service.domain import MessageStatus, Priority
from service.enrollment.schedule import Planned
from service.scheduling import local_date, shift_local_days

_MAX_DAYS_MOVED = 14


@dataclass(frozen=True)
class Existing:
    """A live message of another enrolment of the same patient."""

    id: int
    enrollment_id: int | None
    plan_key: str | None
    step_key: str | None
    channel: str
    due_at: datetime


def apply_limits(
    planned: list[Planned],
    *,
    plan_key: str,
    existing: list[Existing],
    tz: ZoneInfo,
    cap: int,
) -> list[Planned]:
    """`planned` with merges and the daily cap applied, in the same order."""
    merged = _merge(planned, plan_key=plan_key, existing=existing, tz=tz)
    return _cap(merged, existing=existing, tz=tz, cap=cap)


def _merge(
    planned: list[Planned], *, plan_key: str, existing: list[Existing], tz: ZoneInfo
) -> list[Planned]:
    if not existing:
        return planned
    same: dict[tuple[str | None, str, date], int] = {}
    for row in existing:
        if row.plan_key == plan_key:
            same.setdefault((row.step_key, row.channel, local_date(row.due_at, tz)), row.id)
    result = []
    for item in planned:
        key = (item.step_key, str(item.channel), local_date(item.due_at, tz))
        target = same.get(key) if item.status == MessageStatus.SCHEDULED else None
        result.append(item if target is None else item.skipped(f"merged with message {target}"))
    return result


def _cap(
    planned: list[Planned], *, existing: list[Existing], tz: ZoneInfo, cap: int
) -> list[Planned]:
    counts: Counter[tuple[str, date]] = Counter(
        (row.channel, local_date(row.due_at, tz)) for row in existing
    )
    order = sorted(
        (i for i, p in enumerate(planned) if p.status == MessageStatus.SCHEDULED),
        key=lambda i: planned[i].next_attempt_at,
    )
    result = list(planned)
    for i in order:
        result[i] = _fit(planned[i], counts=counts, tz=tz, cap=cap)
    return result


def _fit(item: Planned, *, counts: Counter[tuple[str, date]], tz: ZoneInfo, cap: int) -> Planned:
    channel = str(item.channel)
    key = (channel, local_date(item.next_attempt_at, tz))
    if counts[key] < cap or item.priority != Priority.ROUTINE:
        counts[key] += 1
        return item
    for days in range(1, _MAX_DAYS_MOVED + 1):
        moved = shift_local_days(item.next_attempt_at, days, tz=tz)
        if moved >= item.valid_until:
            break
        moved_key = (channel, local_date(moved, tz))
        if counts[moved_key] < cap:
            counts[moved_key] += 1
            reason = f"moved {days} day(s) later: daily cap of {cap} {channel} messages reached"
            return replace(item, due_at=moved, next_attempt_at=moved, reason=reason)
    return item.skipped(f"daily cap of {cap} {channel} messages reached")
