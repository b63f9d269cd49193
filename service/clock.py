"""The service's "now": the wall clock, or a scaled clock for a simulated day.

Everything that decides by the time of day (due rows, quiet hours, validity windows,
pacing slots) reads "now" from the process's clock. By default that is the wall clock.
`bench/scale_day.py` compresses a day into minutes with CLOCK_START, CLOCK_ANCHOR and
CLOCK_RATE: the clock read CLOCK_START at the Unix time CLOCK_ANCHOR and runs CLOCK_RATE
clock seconds per real second, so every process (workers, web, CLI) started with the
same three settings reads the same instant. Durations that bound processes and networks
(claim TTL, call timeouts, pace-ahead) are real time: the dispatcher scales them by the
rate (`DispatchOptions.clock_rate`). Production refuses a scaled clock. Pure: no I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Clock:
    start: datetime | None = None  # None: the wall clock
    anchor: float = 0.0  # Unix time at which the clock read `start`
    rate: float = 1.0  # clock seconds per real second

    @classmethod
    def from_settings(cls, settings: Any) -> Clock:
        if settings.clock_start is None:
            return cls()
        return cls(settings.clock_start, settings.clock_anchor, settings.clock_rate)

    @property
    def scaled(self) -> bool:
        return self.start is not None

    def now(self) -> datetime:
        if self.start is None:
            return datetime.now(UTC)
        return self.start + timedelta(seconds=(time.time() - self.anchor) * self.rate)
