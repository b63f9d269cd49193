"""The dispatcher with the real twilio SDK against the local fake, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from service.db.engine import make_engine, session_scope
from service.db.models import Message, Patient
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.dispatch.options import DispatchOptions
from service.dispatch.reconcile import reconcile_in_doubt
from service.enrollment import lose_sms
from service.retry import RetryPolicy
from tests.dispatch_support import seed_plan_messages, status_counts
from tests.factories import Factory
from tests.integration.conftest import settings_for_twilio

FAST = DispatchOptions(
    claim_ttl_seconds=1.0,
    reconcile_margin_seconds=0.2,
    provider_window_seconds=0.3,
    reconcile_interval_seconds=0.3,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, settings, fake_twilio):
    """(settings, engine) on either back-end, with the SDK pointed at the fake."""
    if request.param == "postgresql":
        settings = settings.model_copy(update={"database_url": request.getfixturevalue("pg_url")})
    settings = settings_for_twilio(
        settings,
        fake_twilio.url,
        twilio_timeout_seconds=0.5,
        smtp_timeout_seconds=0.5,
        dispatch_concurrency=4,
    )
    engine = make_engine(settings)
    if request.param == "sqlite":
        SQLModel.metadata.create_all(engine)
    fake_twilio.fake.configure(callbacks=False)
    yield settings, engine
    engine.dispose()


def dispatcher_for(settings, engine: Engine) -> Dispatcher:
    ctx = DispatchContext(
        settings=settings,
        engine=engine,
        worker_id="it",
        options=FAST,
        policy=RetryPolicy(base=timedelta(seconds=0.05), jitter=0.5),
    )
    return Dispatcher(ctx)


def run_until_settled(dispatcher: Dispatcher, engine: Engine, *, timeout: float = 30) -> dict:
    """Dispatch and reconcile (in real time) until nothing is scheduled or sending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dispatcher.tick(horizon=0.1)
        dispatcher.drain(10)
        reconcile_in_doubt(dispatcher.ctx, now=datetime.now(UTC))
        with Session(engine) as session:
            counts = status_counts(session)
        if not counts.get("scheduled") and not counts.get("sending"):
            return counts
        time.sleep(0.05)
    raise AssertionError(f"not settled in {timeout}s: {counts}")


def seed(engine: Engine, count: int, **kwargs) -> tuple[int, list[str]]:
    with Session(engine, expire_on_commit=False) as session:
        clinic = Factory(session).clinic(timezone="UTC", quiet_start=time_(0), quiet_end=time_(0))
        due = datetime.now(UTC) - timedelta(seconds=1)
        return clinic.id, seed_plan_messages(
            session, clinic=clinic, count=count, due_at=due, **kwargs
        )


def time_(hour: int):
    from datetime import time as t

    return t(hour)


def test_every_due_message_goes_out_once_with_the_providers_id(db, fake_twilio):
    settings, engine = db
    _, phones = seed(engine, 40)
    dispatcher = dispatcher_for(settings, engine)
    try:
        assert run_until_settled(dispatcher, engine) == {"sent": 40}
    finally:
        dispatcher.stop()
    stats = fake_twilio.fake.stats()
    assert stats["by_to"] == {phone: 1 for phone in phones}
    with Session(engine) as session:
        rows = session.exec(select(Message)).all()
    for row in rows:
        stored = fake_twilio.fake.messages[row.provider_id]
        assert (stored["to"], stored["body"]) == (row.to_address, row.body)


def test_an_unsubscribed_number_fails_and_opts_the_patient_out(db, fake_twilio):
    settings, engine = db
    seed(engine, 1, phone_base=15_005_550_004)  # Twilio's magic "unsubscribed" number
    dispatcher = dispatcher_for(settings, engine)
    try:
        assert run_until_settled(dispatcher, engine) == {"failed": 1}
    finally:
        dispatcher.stop()
    with Session(engine) as session:
        message = session.exec(select(Message)).one()
        patient = session.get(Patient, message.patient_id)
    assert message.error_code == "21610"
    assert patient is not None and patient.sms_opted_out_at is not None


def test_a_429_is_retried_and_sent_once(db, fake_twilio):
    settings, engine = db
    _, phones = seed(engine, 3)
    fake_twilio.fake.configure(fail_next=[{"status": 429, "code": 20429, "retry_after": 0}])
    dispatcher = dispatcher_for(settings, engine)
    try:
        assert run_until_settled(dispatcher, engine) == {"sent": 3}
    finally:
        dispatcher.stop()
    assert fake_twilio.fake.stats()["by_to"] == {phone: 1 for phone in phones}


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "accept": True},  # accepted, then the answer was lost
        {"status": 503, "accept": False},  # refused with a 5xx: in doubt, never sent
        {"hang": True, "accept": True},  # accepted, answered after our timeout
    ],
    ids=["accepted-then-5xx", "5xx", "read-timeout"],
)
def test_in_doubt_sends_are_reconciled_not_resent(db, fake_twilio, fault):
    settings, engine = db
    _, phones = seed(engine, 2)
    fake_twilio.fake.configure(fail_next=[fault], hang_seconds=1.0)
    dispatcher = dispatcher_for(settings, engine)
    try:
        assert run_until_settled(dispatcher, engine) == {"sent": 2}
    finally:
        dispatcher.stop()
    assert fake_twilio.fake.stats()["by_to"] == {phone: 1 for phone in phones}
    with Session(engine) as session:
        provider_ids = {m.provider_id for m in session.exec(select(Message))}
    assert provider_ids == set(fake_twilio.fake.messages)


ROWS = 600


def pg_dispatch(settings, pg_url, fake_twilio, **extra):
    extra = {"twilio_timeout_seconds": 2.0, "dispatch_concurrency": 8, **extra}
    settings = settings_for_twilio(
        settings.model_copy(update={"database_url": pg_url}), fake_twilio.url, **extra
    )
    return settings, make_engine(settings)


@pytest.mark.postgres
def test_no_call_starts_after_an_opt_out_commits_mid_burst(settings, pg_url, fake_twilio):
    settings, engine = pg_dispatch(
        settings, pg_url, fake_twilio, dispatch_batch_size=16
    )  # small claims, so the STOPs land while rows are unclaimed
    # More rows than the dispatcher's pipeline holds, so the later half is still
    # unclaimed when the STOPs commit and the race really happens.
    fake_twilio.fake.configure(callbacks=False, latency=0.02)
    _, phones = seed(engine, ROWS)
    dispatcher = dispatcher_for(settings, engine)
    worker = threading.Thread(target=lambda: [dispatcher.tick(horizon=0.2) for _ in range(40)])
    worker.start()
    while fake_twilio.fake.stats()["accepted"] < 10:
        time.sleep(0.005)
    committed = {phone: opt_out(engine, phone) for phone in phones[ROWS // 2 :]}  # mid-burst
    worker.join()
    dispatcher.stop()
    with Session(engine) as session:
        started = dict(session.exec(select(Message.provider_id, Message.call_started_at)).all())
    engine.dispose()
    # A text to a patient who opted out left only if its call started (its fence
    # committed) before the opt-out did: a call in flight at that instant, never a later one.
    accepted = [m for m in fake_twilio.fake.messages.values() if m["to"] in committed]
    late = [m["to"] for m in accepted if started[m["sid"]] >= committed[m["to"]]]
    assert late == []
    assert fake_twilio.fake.stats()["accepted"] < ROWS  # the opt-out really cut some off


@pytest.mark.postgres
def test_a_stop_never_waits_on_a_provider_call(settings, pg_url, fake_twilio):
    """The provider holds every call unanswered: a STOP from a patient whose text is in
    flight must still commit at once (before: it waited on the batch's share locks)."""
    settings, engine = pg_dispatch(settings, pg_url, fake_twilio, twilio_timeout_seconds=20.0)
    fake_twilio.fake.configure(callbacks=False, hold=True, hang_seconds=15)
    _, phones = seed(engine, 20)
    dispatcher = dispatcher_for(settings, engine)
    worker = threading.Thread(target=lambda: dispatcher.tick(horizon=0.5))
    worker.start()
    while fake_twilio.fake.stats()["held"] < 8:  # every sending thread is in a call
        time.sleep(0.005)
    calling = fake_twilio.fake.stats()["held_to"]
    waiting = [phone for phone in phones if phone not in calling]
    stopped = opt_out(engine, calling[0], lock_timeout="2s")
    queued_stop = opt_out(engine, waiting[0], lock_timeout="2s")
    with Session(engine) as session:
        patient_id = session.exec(select(Patient.id).where(Patient.phone == waiting[0])).one()
    deadline = time.monotonic() + 10  # the notice of the STOP reaches the worker (ms)
    while not dispatcher.notices.opted_out_since(patient_id, "sms_opted_out_at", 0.0):
        assert time.monotonic() < deadline, "the STOP's notice never reached the dispatcher"
        time.sleep(0.005)
    fake_twilio.fake.configure(hold=False)
    worker.join()
    dispatcher.drain(20)
    dispatcher.stop()
    with Session(engine) as session:
        status = dict(session.exec(select(Message.to_address, Message.status)).all())
    engine.dispose()
    assert stopped and queued_stop
    assert status[calling[0]] == "sent"  # its call had started before the STOP
    assert status[waiting[0]] == "cancelled"  # its call would have started after it
    assert fake_twilio.fake.stats()["by_to"].get(waiting[0]) is None


def opt_out(engine: Engine, phone: str, *, lock_timeout: str | None = None) -> datetime:
    """STOP from `phone` as INBOUND handles it; returns the instant its COMMIT returned.
    `lock_timeout`: fail instead of waiting longer on a lock."""
    with session_scope(engine) as session:
        if lock_timeout:
            session.exec(text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))  # type: ignore[call-overload]
        now = datetime.now(UTC)
        patient = session.exec(select(Patient).where(Patient.phone == phone)).one()
        patient.sms_opted_out_at = now
        session.add(patient)
        session.flush()
        lose_sms(session, patient=patient, why="STOP", now=now)
    return datetime.now(UTC)


def test_a_slow_provider_and_a_short_claim_ttl_count_one_attempt_per_call(db, fake_twilio):
    """Each call takes 0.1 s and a claim is fresh for 1 s: claims must fit what the
    threads can start, and a row released unsent must not be charged an attempt."""
    settings, engine = db
    fake_twilio.fake.configure(latency=0.1)
    _, phones = seed(engine, 120)
    dispatcher = dispatcher_for(settings, engine)
    try:
        assert run_until_settled(dispatcher, engine, timeout=120) == {"sent": 120}
    finally:
        dispatcher.stop()
    assert fake_twilio.fake.stats()["by_to"] == dict.fromkeys(phones, 1)
    with Session(engine) as session:
        attempts = set(session.exec(select(Message.attempts)).all())
    assert attempts == {1}
