"""RetryPolicy: exponential backoff with jitter, Retry-After, validity bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.retry import RetryPolicy

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
POLICY = RetryPolicy(base=timedelta(seconds=10), factor=2, cap=timedelta(minutes=5), jitter=0.5)


def no_jitter() -> float:
    return 0.0


def full_jitter() -> float:
    return 1.0


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 300), (7, 300)],
)
def test_it_backs_off_exponentially_up_to_the_cap(attempts: int, seconds: int) -> None:
    at = POLICY.next_attempt(attempts=attempts, now=NOW, rand=no_jitter)
    assert at == NOW + timedelta(seconds=seconds)


def test_jitter_keeps_at_least_half_the_backoff() -> None:
    at = POLICY.next_attempt(attempts=2, now=NOW, rand=full_jitter)
    assert at == NOW + timedelta(seconds=10)


def test_jitter_spreads_retries_of_simultaneous_failures() -> None:
    times = {POLICY.next_attempt(attempts=3, now=NOW) for _ in range(50)}
    assert len(times) > 10
    assert all(NOW + timedelta(seconds=20) <= t <= NOW + timedelta(seconds=40) for t in times)


def test_it_honours_a_retry_after_longer_than_the_backoff() -> None:
    at = POLICY.next_attempt(attempts=1, now=NOW, retry_after=120, rand=no_jitter)
    assert at == NOW + timedelta(seconds=120)


def test_a_retry_after_shorter_than_the_backoff_does_not_shorten_it() -> None:
    at = POLICY.next_attempt(attempts=3, now=NOW, retry_after=1, rand=no_jitter)
    assert at == NOW + timedelta(seconds=40)


def test_it_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.next_attempt(attempts=2, now=NOW) is not None
    assert policy.next_attempt(attempts=3, now=NOW) is None


def test_it_never_schedules_a_retry_past_the_validity_window() -> None:
    valid_until = NOW + timedelta(seconds=30)
    assert POLICY.next_attempt(attempts=1, now=NOW, valid_until=valid_until, rand=no_jitter)
    assert POLICY.next_attempt(attempts=3, now=NOW, valid_until=valid_until, rand=no_jitter) is None


def test_a_retry_after_beyond_the_validity_window_gives_up() -> None:
    valid_until = NOW + timedelta(minutes=1)
    at = POLICY.next_attempt(attempts=1, now=NOW, valid_until=valid_until, retry_after=3600)
    assert at is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base": timedelta(0)},
        {"base": timedelta(minutes=10), "cap": timedelta(minutes=1)},
        {"factor": 0.5},
        {"jitter": 1.5},
        {"max_attempts": 0},
    ],
)
def test_it_rejects_a_nonsensical_policy(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
