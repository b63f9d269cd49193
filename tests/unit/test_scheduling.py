"""Scheduling maths: local-calendar offsets, DST resolution, quiet hours, pacing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.domain import Priority
from service.plans.model import Offset
from service.scheduling import (
    QuietHours,
    add_months,
    local_due,
    next_allowed,
    pace,
    resolve_wall,
    shift_local_days,
    window_for,
)

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
QUIET = QuietHours(time(20, 0), time(8, 0))
NIGHT = QuietHours(time(21, 0), time(8, 0))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_one_day_at_ten_is_ten_local_on_the_next_calendar_day_across_spring_forward():
    procedure = datetime(2026, 3, 7, 14, 0, tzinfo=NY)  # EST, the day before the change
    due = local_due(procedure, Offset(days=1, at=time(10, 0)), tz=NY)
    assert due.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 8, 10, 0)
    assert due == utc(2026, 3, 8, 14, 0)  # EDT: 23 hours after the same wall time


def test_a_day_without_a_time_keeps_the_procedure_wall_time_across_fall_back():
    procedure = datetime(2026, 10, 31, 15, 30, tzinfo=NY)
    due = local_due(procedure, Offset(days=1), tz=NY)
    assert due.astimezone(NY).replace(tzinfo=None) == datetime(2026, 11, 1, 15, 30)
    assert due - procedure == timedelta(hours=25)


def test_hours_are_elapsed_time_not_wall_time():
    procedure = datetime(2026, 3, 8, 0, 30, tzinfo=NY)
    due = local_due(procedure, Offset(hours=4), tz=NY)
    assert due - procedure == timedelta(hours=4)
    assert due.astimezone(NY).hour == 5  # 01:00 EST + 4h crosses the gap


def test_months_clamp_to_the_end_of_the_month():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


@pytest.mark.parametrize(
    ("tz", "day", "wall", "expected_utc", "expected_local"),
    [
        # Spring forward: 02:30 does not exist; it moves forward by the gap.
        (NY, date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30), time(3, 30)),
        (LONDON, date(2026, 3, 29), time(1, 30), utc(2026, 3, 29, 1, 30), time(2, 30)),
        # Fall back: 01:30 happens twice; the earlier instant (summer time) wins.
        (NY, date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30), time(1, 30)),
        (LONDON, date(2026, 10, 25), time(1, 30), utc(2026, 10, 25, 0, 30), time(1, 30)),
    ],
)
def test_wall_times_in_dst_gaps_move_forward_and_repeated_ones_take_the_earlier_instant(
    tz, day, wall, expected_utc, expected_local
):
    instant = resolve_wall(day, wall, tz)
    assert instant == expected_utc
    assert instant.astimezone(tz).time() == expected_local


def test_an_offset_landing_in_the_gap_is_sent_after_the_wall_time_asked_for():
    procedure = datetime(2026, 3, 7, 2, 30, tzinfo=NY)
    due = local_due(procedure, Offset(days=1), tz=NY)
    assert due.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 8, 3, 30)


def test_a_time_inside_quiet_hours_moves_to_the_end_of_the_window_next_morning():
    evening = datetime(2026, 3, 2, 21, 15, tzinfo=NY)
    moved = next_allowed(evening, tz=NY, window=QUIET)
    assert moved.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 3, 8, 0)


def test_an_early_morning_time_moves_to_the_same_mornings_window_end():
    early = datetime(2026, 3, 3, 6, 0, tzinfo=NY)
    moved = next_allowed(early, tz=NY, window=QUIET)
    assert moved.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 3, 8, 0)


def test_quiet_hours_end_is_dst_correct_on_the_night_of_the_change():
    evening = datetime(2026, 3, 7, 22, 0, tzinfo=NY)  # EST
    moved = next_allowed(evening, tz=NY, window=QUIET)
    assert moved == utc(2026, 3, 8, 12, 0)  # 08:00 EDT
    autumn = datetime(2026, 10, 24, 23, 0, tzinfo=LONDON)
    assert next_allowed(autumn, tz=LONDON, window=QUIET) == utc(2026, 10, 25, 8, 0)  # GMT


def test_times_outside_the_window_are_returned_unchanged_in_utc():
    afternoon = datetime(2026, 3, 2, 15, 0, tzinfo=NY)
    assert next_allowed(afternoon, tz=NY, window=QUIET) == utc(2026, 3, 2, 20, 0)
    assert next_allowed(afternoon, tz=NY, window=None).tzinfo == UTC


def test_the_window_start_is_inside_and_the_end_is_outside():
    assert QUIET.contains(time(20, 0))
    assert not QUIET.contains(time(8, 0))
    assert not QUIET.contains(time(19, 59))
    assert not QuietHours(time(8, 0), time(8, 0)).contains(time(8, 0))  # empty window
    daytime = QuietHours(time(12, 0), time(13, 0))
    assert daytime.contains(time(12, 30))
    assert not daytime.contains(time(13, 30))


def test_priority_chooses_the_window():
    assert window_for(Priority.ROUTINE, quiet=QUIET, night=NIGHT) is QUIET
    assert window_for(Priority.SAFETY, quiet=QUIET, night=NIGHT) is NIGHT
    assert window_for(Priority.URGENT, quiet=QUIET, night=NIGHT) is None


def test_safety_messages_may_use_the_evening_but_not_the_night():
    at_2030 = datetime(2026, 3, 2, 20, 30, tzinfo=NY)
    safety = window_for(Priority.SAFETY, quiet=QUIET, night=NIGHT)
    assert next_allowed(at_2030, tz=NY, window=safety) == at_2030.astimezone(UTC)
    at_2130 = datetime(2026, 3, 2, 21, 30, tzinfo=NY)
    moved = next_allowed(at_2130, tz=NY, window=safety)
    assert moved.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 3, 8, 0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        next_allowed(datetime(2026, 3, 2, 12, 0), tz=NY, window=QUIET)
    with pytest.raises(ValueError, match="naive"):
        local_due(datetime(2026, 3, 2, 12, 0), Offset(days=1), tz=NY)


def test_shifting_by_local_days_keeps_the_wall_time():
    instant = datetime(2026, 3, 7, 10, 0, tzinfo=NY)
    shifted = shift_local_days(instant, 1, tz=NY)
    assert shifted.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 8, 10, 0)


def test_pacing_spreads_sends_sharing_an_instant_at_the_sender_rate():
    ten = utc(2026, 3, 3, 15, 0)
    eleven = utc(2026, 3, 3, 16, 0)
    paced = pace([ten, ten, eleven, ten], rate_per_second=2.0)
    assert paced == [ten, ten + timedelta(seconds=0.5), eleven, ten + timedelta(seconds=1)]


def test_pacing_counts_what_was_queued_earlier_for_the_same_instant():
    ten = utc(2026, 3, 3, 15, 0)
    assert pace([ten], rate_per_second=1.0, already={ten: 3}) == [ten + timedelta(seconds=3)]
    with pytest.raises(ValueError, match="positive"):
        pace([ten], rate_per_second=0)
