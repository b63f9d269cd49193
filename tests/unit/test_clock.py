"""The scaled clock (service.clock) a simulated day runs on, and what it scales."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from service.clock import Clock
from service.config import SettingsError, load_settings
from service.dispatch.options import DispatchOptions

START = datetime(2026, 3, 10, tzinfo=UTC)


def test_it_reads_the_wall_clock_by_default():
    clock = Clock.from_settings(load_settings())
    assert not clock.scaled
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 5


def test_every_process_with_the_same_settings_reads_the_same_instant():
    anchor = time.time() - 10  # the clock read START ten real seconds ago
    settings = load_settings(clock_start=START, clock_anchor=anchor, clock_rate=100)
    now = Clock.from_settings(settings).now()
    # 10 real seconds (and the little this test took) at 100x: 1,000 s and a bit.
    assert START + timedelta(seconds=1000) <= now < START + timedelta(seconds=1500)


def test_durations_bounding_processes_scale_and_the_schedule_does_not():
    settings = load_settings(clock_start=START, clock_anchor=time.time(), clock_rate=50)
    options = DispatchOptions.from_settings(settings)
    plain = DispatchOptions.from_settings(load_settings())
    assert options.claim_ttl == plain.claim_ttl * 50
    assert options.pace_ahead == plain.pace_ahead * 50
    assert options.provider_window == plain.provider_window * 50
    assert options.call_horizon(settings, "sms") == plain.call_horizon(settings, "sms") * 50
    assert options.retry_policy() == plain.retry_policy()
    assert options.hold == plain.hold


def test_a_rate_without_a_start_changes_nothing():
    options = DispatchOptions.from_settings(load_settings(clock_rate=50))
    assert options.clock_rate == 1.0


def test_a_start_needs_its_utc_offset():
    with pytest.raises(SettingsError, match=r"(?i)clock_start"):
        load_settings(clock_start=datetime(2026, 3, 10))


def test_production_refuses_a_scaled_clock(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("CLOCK_START", "2026-03-10T00:00:00+00:00")
    with pytest.raises(SettingsError, match="CLOCK_START"):
        load_settings()
