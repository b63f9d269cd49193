"""Several `aftercare worker` processes on PostgreSQL against the fake Twilio server.

The fake counts what it accepted per recipient: the ground truth for "exactly once".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from service.config import REPO_ROOT
from service.db.engine import make_engine
from service.db.models import Message
from service.fakes.twilio_server import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from service.worker import fleet_lock
from tests.dispatch_support import seed_plan_messages, status_counts
from tests.factories import Factory
from tests.integration.conftest import SENDER

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Fleet:
    """Worker processes started with `python -m service worker`."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.files: list[object] = []

    def start(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        env = {**self.env, "WORKER_ID": name, **extra}
        log = (self.logs / f"{name}.log").open("wb")
        self.files.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "worker"],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        return proc

    def stop_all(self) -> dict[str, int | None]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = None
        for log in self.files:
            log.close()  # type: ignore[attr-defined]
        return codes

    def output(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.logs.glob("*.log"))


@pytest.fixture
def fleet(pg_url: str, fake_twilio, tmp_path: Path) -> Iterator[Fleet]:
    fake_twilio.fake.configure(callbacks=False)
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_FROM": SENDER,
        "TWILIO_API_BASE_URL": fake_twilio.url,
        "TWILIO_TIMEOUT_SECONDS": "1",
        "SMTP_TIMEOUT_SECONDS": "1",
        "DISPATCH_CONCURRENCY": "8",
        "DISPATCH_INTERVAL_SECONDS": "0.2",
        "DISPATCH_CLAIM_TTL_SECONDS": "1.5",
        "DISPATCH_RECONCILE_MARGIN_SECONDS": "0.3",
        "DISPATCH_PROVIDER_WINDOW_SECONDS": "0.3",
        "DISPATCH_RECONCILE_INTERVAL_SECONDS": "0.5",
        "DISPATCH_RETRY_BASE_SECONDS": "0.1",
    }
    fleet = Fleet(env, tmp_path)
    try:
        yield fleet
    finally:
        fleet.stop_all()


@pytest.fixture
def engine(pg_url: str, settings) -> Iterator[Engine]:
    engine = make_engine(settings.model_copy(update={"database_url": pg_url}))
    yield engine
    engine.dispose()


def seed(engine: Engine, count: int) -> list[str]:
    from datetime import time as wall

    with Session(engine, expire_on_commit=False) as session:
        clinic = Factory(session).clinic(timezone="UTC", quiet_start=wall(0), quiet_end=wall(0))
        due = datetime.now(UTC) - timedelta(seconds=1)
        return seed_plan_messages(session, clinic=clinic, count=count, due_at=due)


def wait_for(engine: Engine, fleet: Fleet, want: dict[str, int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as session:
            counts = status_counts(session)
        if counts == want:
            return
        time.sleep(0.3)
    raise AssertionError(f"stuck at {counts}, wanted {want}\n{fleet.output()}")


def wait_accepted(fake_twilio, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while fake_twilio.fake.stats()["accepted"] < at_least:
        assert time.monotonic() < deadline, "the fleet never got going"
        time.sleep(0.01)


def holding(engine: Engine, worker: str) -> list[int]:
    with Session(engine) as session:
        query = select(Message.id).where(Message.status == "sending", Message.claimed_by == worker)
        return list(session.exec(query).all())


def wait_holding(engine: Engine, worker: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not holding(engine, worker):
        assert time.monotonic() < deadline, f"{worker} never held claimed rows"
        time.sleep(0.005)


def assert_exactly_once(engine: Engine, fake_twilio, phones: list[str]) -> None:
    stats = fake_twilio.fake.stats()
    assert stats["by_to"] == dict.fromkeys(phones, 1)
    with Session(engine) as session:
        provider_ids = set(session.exec(select(Message.provider_id)).all())
    assert provider_ids == set(fake_twilio.fake.messages)


def test_three_worker_processes_send_3000_messages_exactly_once(engine, fleet, fake_twilio):
    phones = seed(engine, 3000)
    for name in ("w0", "w1", "w2"):
        fleet.start(name)
    wait_for(engine, fleet, {"sent": 3000}, timeout=150)
    assert_exactly_once(engine, fake_twilio, phones)
    with Session(engine) as session:
        workers = set(session.exec(select(Message.claimed_by)).all())
    assert workers == {"w0", "w1", "w2"}  # they shared the queue
    assert set(fleet.stop_all().values()) == {0}


def test_a_worker_killed_mid_batch_leaves_nothing_lost_or_doubled(engine, fleet, fake_twilio):
    fake_twilio.fake.configure(latency=0.05)  # batches long enough to kill one midway
    phones = seed(engine, 1500)
    victim = fleet.start("w0")
    for name in ("w1", "w2"):
        fleet.start(name)
    wait_accepted(fake_twilio, 300)
    wait_holding(engine, "w0")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    orphaned = holding(engine, "w0")
    assert orphaned, "the kill should have caught w0 holding claimed rows"
    fleet.start("w0-restarted")
    wait_for(engine, fleet, {"sent": 1500}, timeout=120)
    assert_exactly_once(engine, fake_twilio, phones)


def test_a_30_percent_provider_outage_still_sends_everything_once(engine, fleet, fake_twilio):
    # 20% answer 5xx (half of them after accepting the message), 10% hang past our timeout.
    fake_twilio.fake.configure(
        error_rate=0.2, error_status=500, accept_then_fail=0.5, hang_rate=0.1, hang_seconds=1.5
    )
    phones = seed(engine, 300)
    for name in ("w0", "w1", "w2"):
        fleet.start(name)
    wait_for(engine, fleet, {"sent": 300}, timeout=120)
    assert_exactly_once(engine, fake_twilio, phones)
    assert fake_twilio.fake.stats()["requests"] > 300  # faults really happened


def test_sigterm_finishes_in_flight_sends_and_releases_the_rest(engine, fleet, fake_twilio):
    fake_twilio.fake.configure(latency=0.2)
    seed(engine, 200)
    worker = fleet.start("w0", DISPATCH_CONCURRENCY="4")
    wait_accepted(fake_twilio, 8)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0, fleet.output()
    with Session(engine) as session:
        counts = status_counts(session)
    assert "sending" not in counts  # nothing left in doubt by a clean shutdown
    assert counts["sent"] == fake_twilio.fake.stats()["accepted"]
    assert counts["scheduled"] > 0


def test_only_one_process_holds_a_fleet_lock(engine, pg_url, settings):
    other = make_engine(settings.model_copy(update={"database_url": pg_url}))
    try:
        with fleet_lock(engine, "reconcile") as first, fleet_lock(other, "reconcile") as second:
            assert (first, second) == (True, False)
        with fleet_lock(other, "reconcile") as again:
            assert again
    finally:
        other.dispose()


def test_after_a_kill_only_the_calls_in_flight_are_in_doubt(engine, fleet, fake_twilio):
    """A worker killed mid-burst leaves in doubt only the calls it had started (and the
    few fenced just ahead of them); the rest of its claims go back to the queue unasked."""
    fake_twilio.fake.configure(latency=0.05)
    phones = seed(engine, 1500)
    victim = fleet.start("w0")
    wait_accepted(fake_twilio, 200)
    wait_holding(engine, "w0")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    with Session(engine) as session:
        orphaned = session.exec(
            select(Message.call_started_at).where(Message.status == "sending")
        ).all()
    called = [started for started in orphaned if started is not None]
    assert len(orphaned) > len(called)  # it held claims it had not started
    assert len(called) <= 64  # before: every claimed row (up to 1,600) was in doubt
    listings_before = fake_twilio.fake.stats()["requests"]
    fleet.start("w1")
    wait_for(engine, fleet, {"sent": 1500}, timeout=120)
    assert_exactly_once(engine, fake_twilio, phones)
    with Session(engine) as session:
        attempts = session.exec(select(Message.attempts)).all()
    assert max(attempts) <= 2 and sum(attempts) <= 1500 + len(called)
    assert fake_twilio.fake.stats()["requests"] >= listings_before


def test_an_urgent_page_leaves_ahead_of_a_routine_backlog(engine, fleet, fake_twilio):
    fake_twilio.fake.configure(latency=0.02)
    seed(engine, 2000)
    fleet.start("w0", DISPATCH_CLAIM_TTL_SECONDS="30")
    wait_accepted(fake_twilio, 100)
    with Session(engine) as session:
        clinic_id = session.exec(select(Message.clinic_id)).first()
        now = datetime.now(UTC)
        page = Message(dedupe_key="page:1", clinic_id=clinic_id, kind="page", channel="sms",
                       priority="urgent", to_address="+14155559911", body="Urgent reply: call",
                       due_at=now, next_attempt_at=now)  # fmt: skip
        session.add(page)
        session.commit()
    queued_at = fake_twilio.fake.stats()["accepted"]
    deadline = time.monotonic() + 60
    while "+14155559911" not in fake_twilio.fake.stats()["by_to"]:
        assert time.monotonic() < deadline, "the page was never sent"
        time.sleep(0.005)
    behind = fake_twilio.fake.stats()["accepted"] - queued_at
    # Before: it queued behind every routine row claimed ahead of it (up to 1,600).
    assert behind < 200, f"{behind} routine texts left before the page"


def test_sigterm_exits_within_its_bound_while_calls_hang(engine, fleet, fake_twilio):
    fake_twilio.fake.configure(hold=True, hang_seconds=60)
    seed(engine, 200)
    worker = fleet.start(
        "w0",
        DISPATCH_CONCURRENCY="4",
        WORKER_STOP_SECONDS="3",
        TWILIO_TIMEOUT_SECONDS="30",
        DISPATCH_CLAIM_TTL_SECONDS="30",
    )
    deadline = time.monotonic() + 30
    while fake_twilio.fake.stats()["held"] < 4:  # every sending thread is stuck in a call
        assert time.monotonic() < deadline, fleet.output()
        time.sleep(0.01)
    worker.send_signal(signal.SIGTERM)
    # Before: it waited for its claimed batches for as long as the calls hung.
    assert worker.wait(timeout=3 + 5) == 0, fleet.output()
    fake_twilio.fake.configure(hold=False)
    with Session(engine) as session:
        rows = session.exec(select(Message.status, Message.call_started_at)).all()
    in_doubt = [started for status, started in rows if status == "sending"]
    assert len(in_doubt) <= 4 + 64 and all(in_doubt)  # the calls it had started, no more
    assert sum(1 for status, _ in rows if status == "scheduled") >= 200 - len(in_doubt)
