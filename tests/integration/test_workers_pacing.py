"""Pacing at send time across worker processes on PostgreSQL, against the fake Twilio
enforcing each sender's rate (429 above it): the senders' combined rates stay within
rate and burst, urgent rows go first, then safety, then routine, a routine row that
cannot go within its validity is skipped with the reason, and nothing is lost or sent
twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as wall

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from service import senders
from service.db.models import Clinic, Message, MessageEvent, Patient, WorkerHeartbeat
from service.dispatch.calls import SLOT_GRACE
from service.domain import MessageKind, MessageStatus, Priority
from service.outbox import queue_message
from tests.dispatch_support import status_counts
from tests.factories import Factory
from tests.integration.test_workers import Fleet, assert_exactly_once, engine, fleet  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
SLOW = ("+14155550101", 8.0, 2)  # address, rate, burst
FAST = ("+18885550102", 20.0, 4)
JITTER = 0.1


@pytest.fixture
def paced(fake_twilio, fleet) -> Iterator[None]:  # noqa: F811
    # Claims fresh for 6 s (the kill tests' 1.5 s expire under a busy machine's lag).
    fleet.env["DISPATCH_CLAIM_TTL_SECONDS"] = "6"
    fake_twilio.fake.configure(rates={address: [rate, burst] for address, rate, burst in (
        SLOW, FAST, ("+14155550103", 4.0, 1))})  # fmt: skip
    yield


def clinic_on(session: Session, sender: tuple[str, float, int]) -> Clinic:
    address, rate, burst = sender
    clinic = Factory(session).clinic(sms_from=address, timezone="UTC", quiet_start=wall(0),
                                     quiet_end=wall(0), slug=f"c{address[1:]}")  # fmt: skip
    clinic.night_start = clinic.night_end = wall(0)
    row = senders.ensure(session, "sms", address)
    row.rate_per_second, row.burst = rate, burst
    session.commit()
    return clinic


def queue(
    session: Session,
    clinic: Clinic,
    count: int,
    *,
    priority: Priority,
    phone_base: int,
    valid_for: float | None = None,
    commit: bool = True,
) -> list[str]:
    now = datetime.now(UTC)
    phones = []
    for i in range(count):
        phone = f"+1{phone_base + i}"
        patient = Patient(clinic_id=clinic.id, first_name="P", phone=phone, timezone="UTC",
                          sms_consent_at=now - timedelta(days=1))  # fmt: skip
        session.add(patient)
        session.flush()
        kind = MessageKind.AUTO_REPLY if priority == Priority.URGENT else MessageKind.STAFF_REPLY
        queue_message(
            session, clinic_id=clinic.id, channel="sms", body=f"{priority} {i}", kind=kind,
            priority=priority, due_at=now - timedelta(seconds=1), patient_id=patient.id,
            valid_until=None if valid_for is None else now + timedelta(seconds=valid_for),
            dedupe_key=f"t:{phone}",
        )  # fmt: skip
        phones.append(phone)
    if commit:
        session.commit()
    return phones


def wait_started(db: Engine, workers: Fleet, count: int) -> None:
    """Until `count` workers have ticked (start-up takes seconds on a busy machine)."""
    deadline = time.monotonic() + 90
    while True:
        with Session(db) as session:
            if len(session.exec(select(WorkerHeartbeat.worker_id)).all()) >= count:
                return
        assert time.monotonic() < deadline, workers.output()
        time.sleep(0.1)


def wait_settled(db: Engine, workers: Fleet, total: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(db) as session:
            counts = status_counts(session)
        settled = counts.get("sent", 0) + counts.get("skipped", 0)
        if settled == total:
            return counts
        time.sleep(0.2)
    raise AssertionError(f"stuck at {counts}\n{workers.output()}")


def most_in_any_window(instants: list[float], seconds: float) -> int:
    instants = sorted(instants)
    most, start = 0, 0
    for end, at in enumerate(instants):
        while instants[start] <= at - seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_workers_keep_each_sender_within_its_rate_and_burst(engine, fleet, fake_twilio, paced):  # noqa: F811
    with Session(engine, expire_on_commit=False) as session:
        slow = queue(session, clinic_on(session, SLOW), 48, priority=Priority.ROUTINE,
                     phone_base=4155000000)  # fmt: skip
        fast = queue(session, clinic_on(session, FAST), 120, priority=Priority.ROUTINE,
                     phone_base=4156000000)  # fmt: skip
    for name in ("w0", "w1", "w2"):
        fleet.start(name)
    assert wait_settled(engine, fleet, 168, timeout=120) == {"sent": 168}
    assert_exactly_once(engine, fake_twilio, slow + fast)
    for address, rate, burst in (SLOW, FAST):
        calls = [at for sender, at, _, _ in fake_twilio.fake.attempts if sender == address]
        for seconds in (1.0, 3.0):  # every call made, refused or not
            # Calls start within SLOT_GRACE of their slots; JITTER covers their way to
            # the fake on a loaded machine (the fake stamps them as it handles them).
            bound = burst + rate * (seconds + SLOT_GRACE + JITTER)
            assert most_in_any_window(calls, seconds) <= bound, (address, seconds)
    assert fake_twilio.fake.stats()["throttled"] <= 0.05 * 168
    with Session(engine) as session:
        workers = set(session.exec(select(Message.claimed_by)).all())
    assert len(workers) >= 2  # they shared the senders


def test_urgent_then_safety_then_routine_and_routine_skipped_rather_than_late(
    engine,  # noqa: F811
    fleet,  # noqa: F811
    fake_twilio,
    paced,
):
    sender = ("+14155550103", 4.0, 1)
    with Session(engine, expire_on_commit=False) as session:
        clinic = clinic_on(session, sender)
    for name in ("w0", "w1", "w2"):
        fleet.start(name)
    wait_started(engine, fleet, 3)
    with Session(engine, expire_on_commit=False) as session:  # all at once, one commit
        routine = queue(session, clinic, 40, priority=Priority.ROUTINE, phone_base=4157000000,
                        valid_for=6.0, commit=False)  # fmt: skip
        safety = queue(session, clinic, 8, priority=Priority.SAFETY, phone_base=4157100000,
                       commit=False)  # fmt: skip
        urgent = queue(session, clinic, 4, priority=Priority.URGENT, phone_base=4157200000)
    with Session(engine, expire_on_commit=False) as session:
        deadline = time.monotonic() + 90
        while fake_twilio.fake.stats()["accepted"] < 6:  # a backlog is being worked through
            assert time.monotonic() < deadline, fleet.output()
            time.sleep(0.05)
        asked = time.time()
        page = queue(session, clinic, 1, priority=Priority.URGENT, phone_base=4157300000)
    counts = wait_settled(engine, fleet, 53, timeout=120)
    log = sorted(fake_twilio.fake.accepted_log(), key=lambda m: m["at"])
    # Each row's first claim (its first slot): urgent ones, then safety, then routine.
    with Session(engine) as session:
        first = dict(session.exec(
            select(Patient.phone, func.min(MessageEvent.at))
            .join(Message, Message.patient_id == Patient.id)
            .join(MessageEvent, MessageEvent.message_id == Message.id)
            .where(MessageEvent.to_status == "sending").group_by(Patient.phone)).all())  # fmt: skip
    claimed = [[first[p] for p in group if p in first] for group in (urgent, safety, routine)]
    assert max(claimed[0]) <= min(claimed[1]) and max(claimed[1]) <= min(claimed[2])
    paged = next(m["at"] for m in log if m["to"] == page[0])
    # Behind the slots already handed out (the pace-ahead time), not behind the backlog.
    assert paged - asked < 5
    with Session(engine) as session:
        rows = session.exec(select(Message).where(Message.priority == "routine")).all()
    sent_at = {m["to"]: m["at"] for m in log}
    phones = {row.patient_id: row for row in rows}
    with Session(engine) as session:
        by_patient = dict(session.exec(select(Patient.id, Patient.phone)).all())
    skipped = [row for row in rows if row.status == MessageStatus.SKIPPED]
    assert skipped and counts["sent"] + counts["skipped"] == 53
    assert all("rate limit" in (row.status_reason or "") for row in skipped), {
        r.status_reason for r in skipped
    }
    for row in rows:
        phone = by_patient[row.patient_id]
        if phone in sent_at:
            assert sent_at[phone] <= row.valid_until.timestamp()  # never late
    sent_routine = [by_patient[p] for p in phones if by_patient[p] in sent_at]
    assert fake_twilio.fake.stats()["by_to"] == dict.fromkeys(
        sent_routine + safety + urgent + page, 1
    )  # each sent once, and nothing else sent
