"""Dispatcher tuning, read once from `DISPATCH_*` environment variables and passed in.

The claim TTL and the reconciliation grace are what make "nothing sent twice" hold
across processes: a worker only starts a provider call while its claim is younger than
`claim_ttl_seconds`, and every call is bounded by the adapter's HTTP timeout, so once a
claim is older than the grace below no call for it can still be running, and asking the
provider what it has is a complete answer.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.config import Settings
from service.retry import RetryPolicy


class DispatchOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore")

    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_cap_seconds: float = Field(default=1800.0, gt=0)
    retry_max_attempts: int = Field(default=8, ge=1)
    claim_ttl_seconds: float = Field(default=30.0, gt=0)
    # Scheduling jitter and clock reads between the claim check and the call.
    reconcile_margin_seconds: float = Field(default=2.0, ge=0)
    provider_window_seconds: float = Field(default=60.0, ge=0)  # listing may lag a send
    reconcile_interval_seconds: float = Field(default=10.0, gt=0)
    reconcile_batch: int = Field(default=200, ge=1)
    hold_minutes: float = Field(default=15.0, gt=0)  # re-check paused / alert-held rows
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    heartbeat_retention_days: int = Field(default=7, ge=1)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base=timedelta(seconds=self.retry_base_seconds),
            cap=timedelta(seconds=max(self.retry_cap_seconds, self.retry_base_seconds)),
            max_attempts=self.retry_max_attempts,
        )

    def reconcile_grace(self, settings: Settings) -> timedelta:
        """How old a claim must be before no provider call for it can still be running."""
        timeout = max(settings.twilio_timeout_seconds, settings.smtp_timeout_seconds)
        return timedelta(seconds=self.claim_ttl_seconds + timeout + self.reconcile_margin_seconds)

    @property
    def claim_ttl(self) -> timedelta:
        return timedelta(seconds=self.claim_ttl_seconds)

    @property
    def provider_window(self) -> timedelta:
        return timedelta(seconds=self.provider_window_seconds)

    @property
    def hold(self) -> timedelta:
        return timedelta(minutes=self.hold_minutes)
