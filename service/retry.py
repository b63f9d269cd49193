"""When to try a failed send again: a plain value, no I/O.

Exponential backoff with jitter so a provider outage does not turn into a synchronised
thundering herd when it ends; the provider's Retry-After is a floor, never ignored; and
the message's validity window is a hard bound: advice that would arrive stale is not
retried at all (the caller fails or skips it with the reason instead).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """`next_attempt` returns the next attempt time, or None to give up.

    `attempts` counts the tries already made (1 after the first failure). The delay before
    try n+1 is `base * factor**(n-1)`, capped at `cap`, then scaled by a random factor in
    [1 - jitter, 1]: "equal jitter" keeps at least half the backoff while spreading retries.
    """

    base: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    cap: timedelta = timedelta(minutes=30)
    max_attempts: int = 8
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("RetryPolicy: need 0 < base <= cap")
        if self.factor < 1 or not 0 <= self.jitter <= 1 or self.max_attempts < 1:
            raise ValueError("RetryPolicy: need factor >= 1, 0 <= jitter <= 1, max_attempts >= 1")

    def delay(self, attempts: int, *, rand: Callable[[], float] = random.random) -> timedelta:
        """The backoff after `attempts` tries, jitter included, before Retry-After."""
        exponent = max(attempts - 1, 0)
        raw = self.base.total_seconds() * self.factor**exponent
        capped = min(raw, self.cap.total_seconds())
        scale = 1 - self.jitter * rand()
        return timedelta(seconds=capped * scale)

    def next_attempt(
        self,
        *,
        attempts: int,
        now: datetime,
        valid_until: datetime | None = None,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> datetime | None:
        """The time of the next try, or None when attempts or validity are used up."""
        if attempts >= self.max_attempts:
            return None
        wait = self.delay(attempts, rand=rand)
        if retry_after is not None and retry_after > 0:
            wait = max(wait, timedelta(seconds=retry_after))
        at = now + wait
        if valid_until is not None and at > valid_until:
            return None
        return at


DEFAULT_POLICY = RetryPolicy()
