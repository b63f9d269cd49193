"""Dispatcher tuning: a view of the `dispatch_*` fields of Settings (the one source).

Settings reads them from `DISPATCH_*` environment variables with the rest of the
configuration; `DispatchOptions.from_settings` hands the dispatcher the ones it tunes
by, and its defaults are Settings' defaults (tests build one with a few overrides).

What makes "nothing sent twice" hold across processes: a call starts only after its
fence has committed `call_started_at` (and only while the claim is younger than
`claim_ttl_seconds`), and every call is bounded by its adapter's timeout. So a claim
older than the TTL (plus the margin) with no call started will never have one, and once
a call is older than its channel's timeout (plus the margin) it is over and asking the
provider what it has is a complete answer (`call_horizon`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from service.config import Settings
from service.domain import Channel
from service.retry import RetryPolicy

PREFIX = "dispatch_"


def _default(name: str) -> Any:
    return Settings.model_fields[PREFIX + name].default


@dataclass(frozen=True)
class DispatchOptions:
    retry_base_seconds: float = _default("retry_base_seconds")
    retry_cap_seconds: float = _default("retry_cap_seconds")
    retry_max_attempts: int = _default("retry_max_attempts")
    claim_ttl_seconds: float = _default("claim_ttl_seconds")
    reconcile_margin_seconds: float = _default("reconcile_margin_seconds")
    provider_window_seconds: float = _default("provider_window_seconds")
    pace_ahead_seconds: float = _default("pace_ahead_seconds")
    reconcile_interval_seconds: float = _default("reconcile_interval_seconds")
    reconcile_batch: int = _default("reconcile_batch")
    hold_minutes: float = _default("hold_minutes")
    heartbeat_seconds: float = _default("heartbeat_seconds")
    retention_interval_seconds: float = _default("retention_interval_seconds")
    heartbeat_retention_days: int = _default("heartbeat_retention_days")
    # Clock seconds per real second (CLOCK_RATE: a benchmark's simulated day). The claim
    # TTL, margin, call horizon, provider window and pace-ahead bound processes and
    # networks, which keep real time, so on a scaled clock they span this many times
    # more clock seconds. Retries and holds are part of the day's schedule: not scaled.
    clock_rate: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchOptions:
        values = {f.name: getattr(settings, PREFIX + f.name) for f in fields(cls)
                  if f.name != "clock_rate"}  # fmt: skip
        rate = settings.clock_rate if settings.clock_start is not None else 1.0
        return cls(clock_rate=rate, **values)

    def _real(self, seconds: float) -> timedelta:
        """`seconds` of real time, on the clock."""
        return timedelta(seconds=seconds * self.clock_rate)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base=timedelta(seconds=self.retry_base_seconds),
            cap=timedelta(seconds=max(self.retry_cap_seconds, self.retry_base_seconds)),
            max_attempts=self.retry_max_attempts,
        )

    def call_horizon(self, settings: Settings, channel: Channel) -> timedelta:
        """How long after it started a call on `channel` can no longer be running."""
        timeout = (
            settings.twilio_timeout_seconds
            if channel == Channel.SMS
            else settings.smtp_timeout_seconds
        )
        return self._real(timeout) + self.margin

    @property
    def margin(self) -> timedelta:
        """Clock reads and scheduling between a check and what it guards."""
        return self._real(self.reconcile_margin_seconds)

    @property
    def claim_ttl(self) -> timedelta:
        return self._real(self.claim_ttl_seconds)

    @property
    def provider_window(self) -> timedelta:
        return self._real(self.provider_window_seconds)

    @property
    def pace_ahead(self) -> timedelta:
        """How far ahead a claim takes send slots: at most half the claim TTL, so a row's
        checks are still fresh when its slot comes."""
        return self._real(min(self.pace_ahead_seconds, self.claim_ttl_seconds / 2))

    @property
    def hold(self) -> timedelta:
        return timedelta(minutes=self.hold_minutes)
