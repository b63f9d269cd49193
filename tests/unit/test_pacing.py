"""Send slots at a sender's rate (GCRA): pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.pacing import Bucket

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def slots(bucket: Bucket, now: datetime, count: int) -> list[float]:
    return [(bucket.take(now) - T0).total_seconds() for _ in range(count)]


def test_an_idle_sender_sends_its_burst_at_once_then_at_its_rate():
    bucket = Bucket(rate=2.0, burst=3)
    assert slots(bucket, T0, 6) == [0.0, 0.0, 0.0, 0.5, 1.0, 1.5]


def test_a_sender_refills_while_quiet_but_never_beyond_its_burst():
    bucket = Bucket(rate=1.0, burst=2)
    slots(bucket, T0, 4)  # slots 0, 0, 1, 2: the next is due at 3
    assert slots(bucket, T0 + 10 * SECOND, 3) == [10.0, 10.0, 11.0]


def test_any_window_holds_at_most_burst_plus_rate_times_its_length():
    bucket = Bucket(rate=5.0, burst=4)
    taken = []
    for step in range(60):  # a claim every 0.3 s taking what its 1 s ahead allows
        now = T0 + step * 0.3 * SECOND
        for _ in range(bucket.slots_within(now, SECOND)):
            taken.append(bucket.take(now))
    for start in taken:
        window = [t for t in taken if start <= t < start + 2 * SECOND]
        assert len(window) <= 4 + 5 * 2


def test_slots_within_counts_the_slots_a_claim_may_take():
    bucket = Bucket(rate=1.0, burst=1)
    assert bucket.slots_within(T0, SECOND) == 2  # now and now + 1 s
    slots(bucket, T0, 2)
    assert bucket.slots_within(T0, SECOND) == 0
    assert bucket.room_at(SECOND) == T0 + SECOND
    assert bucket.slots_within(T0 + SECOND, SECOND) == 1


def test_an_unpaced_sender_never_waits():
    bucket = Bucket(rate=None)
    assert slots(bucket, T0, 3) == [0.0, 0.0, 0.0]
    assert bucket.room_at(SECOND) is None and bucket.tat is None
