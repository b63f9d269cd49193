"""Send slots at a sender's rate: the generic cell rate algorithm (a token bucket kept
as one instant). Pure: no I/O; `service.dispatch.lanes` keeps the state in the sender's
row and changes it under that row's lock, so every worker shares one bucket.

The state is the theoretical arrival time `tat`: when the next send would be due if
the sender had sent at exactly its rate all along. A send may start at `tat - tau`
at the earliest (`tau = (burst - 1) / rate`: up to `burst` sends back to back after a
quiet spell), never before now; each send moves `tat` on by `1 / rate`. So in any
window of w seconds at most `burst + w * rate` sends start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

_EPSILON = 1e-9  # seconds: float error must never cost a slot nor make one up


@dataclass
class Bucket:
    """One sender's pacing: `rate` sends per second (None: not paced), `burst`, `tat`."""

    rate: float | None
    burst: int = 1
    tat: datetime | None = None  # None: idle long enough to have its whole burst

    @property
    def paced(self) -> bool:
        return self.rate is not None

    @property
    def interval(self) -> timedelta:
        assert self.rate is not None
        return timedelta(seconds=1.0 / self.rate)

    @property
    def tolerance(self) -> timedelta:
        return self.interval * (max(self.burst, 1) - 1)

    def next_slot(self, now: datetime) -> datetime:
        """When the next send may start (now at the earliest)."""
        if self.rate is None or self.tat is None:
            return now
        return max(now, self.tat - self.tolerance)

    def take(self, now: datetime) -> datetime:
        """Hand out the next slot: its instant (never before now)."""
        slot = self.next_slot(now)
        if self.rate is not None:
            self.tat = max(self.tat or slot, slot) + self.interval
        return slot

    def slots_within(self, now: datetime, ahead: timedelta) -> int:
        """How many slots start no later than `now + ahead` (unpaced: unbounded)."""
        if self.rate is None:
            return 2**31 - 1
        base = max(self.tat or now, now)
        spare = (now + ahead + self.tolerance - base).total_seconds()
        if spare < -_EPSILON:
            return 0
        return math.floor(spare * self.rate + _EPSILON) + 1

    def room_at(self, ahead: timedelta) -> datetime | None:
        """The instant from which a claim looking `ahead` finds a slot (None: any time)."""
        if self.rate is None or self.tat is None:
            return None
        return self.tat - self.tolerance - ahead
