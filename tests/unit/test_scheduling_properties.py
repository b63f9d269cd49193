"""Property tests (hypothesis) for the pure scheduling maths over random zones and dates."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from service.plans.model import Offset
from service.scheduling import QuietHours, local_due, next_allowed, resolve_wall

ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "America/Havana",
    "America/Santiago",
    "Europe/London",
    "Europe/Madrid",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/St_Johns",
    "UTC",
    "Asia/Tehran",
]
zones = st.sampled_from(ZONES).map(ZoneInfo)
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
walls = st.times().map(lambda t: t.replace(second=0, microsecond=0))
windows = st.tuples(walls, walls).map(lambda pair: QuietHours(*pair))


@settings(max_examples=400, deadline=None)
@given(instant=instants, tz=zones, window=windows)
def test_next_allowed_is_never_inside_the_window_and_never_earlier(instant, tz, window):
    allowed = next_allowed(instant, tz=tz, window=window)
    assert allowed >= instant
    assert not window.contains(allowed.astimezone(tz).time().replace(tzinfo=None))
    assert allowed - instant <= timedelta(hours=26)


@settings(max_examples=300, deadline=None)
@given(a=instants, b=instants, tz=zones, window=windows)
def test_next_allowed_keeps_order(a, b, tz, window):
    a, b = min(a, b), max(a, b)
    assert next_allowed(a, tz=tz, window=window) <= next_allowed(b, tz=tz, window=window)


@settings(max_examples=300, deadline=None)
@given(procedure=instants, tz=zones, days=st.integers(0, 200), at=walls)
def test_day_offsets_land_on_the_right_local_date_at_or_just_after_the_wall_time(
    procedure, tz, days, at
):
    due = local_due(procedure, Offset(days=days, at=at), tz=tz)
    local = due.astimezone(tz)
    expected_day = procedure.astimezone(tz).date() + timedelta(days=days)
    naive = datetime.combine(expected_day, at)
    # Exact, or moved forward by a DST gap (at most 2 hours anywhere in the zone database).
    assert timedelta(0) <= local.replace(tzinfo=None) - naive <= timedelta(hours=2)
    assert due == resolve_wall(expected_day, at, tz)


@settings(max_examples=200, deadline=None)
@given(procedure=instants, tz=zones, first=st.integers(0, 60), gap=st.integers(1, 60), at=walls)
def test_later_day_offsets_are_later(procedure, tz, first, gap, at):
    early = local_due(procedure, Offset(days=first, at=at), tz=tz)
    late = local_due(procedure, Offset(days=first + gap, at=at), tz=tz)
    assert late > early


@settings(max_examples=100, deadline=None)
@given(procedure=instants, tz=zones, hours=st.integers(0, 72))
def test_hour_offsets_are_exact_elapsed_time(procedure, tz, hours):
    assert local_due(procedure, Offset(hours=hours), tz=tz) - procedure == timedelta(hours=hours)


def test_quiet_hours_example_with_a_half_hour_dst_zone():
    # Lord Howe shifts by 30 minutes; the window end still resolves to a real instant.
    tz = ZoneInfo("Australia/Lord_Howe")
    evening = datetime(2026, 10, 3, 22, 0, tzinfo=tz)
    moved = next_allowed(evening, tz=tz, window=QuietHours(time(20, 0), time(8, 0)))
    assert moved.astimezone(tz).time() == time(8, 0)
