"""Pacing at send time on the embedded database: slots at the sender's rate, urgent then
safety then routine, skipped rather than late, and the expiry sweep."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from service import senders
from service.db.models import Message, Sender
from service.dispatch.calls import SLOT_GRACE, _missed, _stale
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.dispatch.expiry import skip_expired
from service.dispatch.intake import Job
from service.dispatch.lanes import NO_SLOT_IN_TIME, RATE_LIMITED, UNCLAIMED
from service.dispatch.options import DispatchOptions
from service.domain import Channel, MessageKind, Priority
from tests.dispatch_support import ScriptedAdapter, ad_hoc, consenting

NUMBER = "+14155550166"
SECOND = timedelta(seconds=1)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(now):
    return Clock(now)


@pytest.fixture
def ctx(settings, engine, clock):
    context = DispatchContext(
        settings=settings, engine=engine, worker_id="w1", clock=clock,
        options=DispatchOptions(claim_ttl_seconds=30, pace_ahead_seconds=1.0),
    )  # fmt: skip
    context.adapters.update({Channel.SMS: ScriptedAdapter(), Channel.EMAIL: ScriptedAdapter()})
    return context


@pytest.fixture
def dispatcher(ctx):
    d = Dispatcher(ctx)
    yield d
    d.stop()


@pytest.fixture
def clinic(factory, session):
    made = factory.clinic(sms_from=NUMBER, timezone="UTC", quiet_start=None, quiet_end=None)
    made.quiet_start = made.quiet_end = made.night_start = made.night_end = made.quiet_start
    session.commit()
    return made


def rate(session, *, per_second: float, burst: int = 1) -> Sender:
    sender = senders.find(session, "sms", NUMBER)
    sender.rate_per_second, sender.burst = per_second, burst
    session.commit()
    return sender


def queue(session, factory, clinic, now, count, *, priority=Priority.ROUTINE, late=0.0,
          valid_for=None):  # fmt: skip
    made = []
    for _ in range(count):
        patient = consenting(factory, clinic)
        kind = MessageKind.AUTO_REPLY if priority == Priority.URGENT else MessageKind.STAFF_REPLY
        made.append(ad_hoc(session, clinic=clinic, patient=patient, priority=priority, kind=kind,
                           due_at=now - timedelta(minutes=5) + late * SECOND,
                           valid_until=None if valid_for is None else now + valid_for))  # fmt: skip
    return made


def offsets(jobs, now) -> list[float]:
    return [(job.not_before - now).total_seconds() for job in jobs]


def test_a_claim_takes_a_paced_senders_slots_within_the_pace_ahead_time(
    session, factory, clinic, dispatcher, now, clock
):
    rate(session, per_second=2.0)
    queue(session, factory, clinic, now, 10)
    assert offsets(dispatcher.claim(100), now) == [0.0, 0.5, 1.0]
    assert dispatcher.claim(100) == []  # no slot left within the next second
    assert dispatcher.room_at == now + 0.5 * SECOND
    clock.now = now + 0.5 * SECOND
    assert offsets(dispatcher.claim(100), now) == [1.5]
    assert senders.find(session, "sms", NUMBER).next_slot_at is not None


def test_urgent_rows_take_the_first_slots_then_safety_then_routine(
    session, factory, clinic, dispatcher, now
):
    rate(session, per_second=1.0)
    routine = queue(session, factory, clinic, now, 3)
    safety = queue(session, factory, clinic, now, 2, priority=Priority.SAFETY, late=1)
    urgent = queue(session, factory, clinic, now, 1, priority=Priority.URGENT, late=2)
    jobs = dispatcher.claim(100)
    assert [job.message_id for job in jobs] == [urgent[0].id, safety[0].id]
    assert routine[0].id not in [job.message_id for job in jobs]


def test_a_row_whose_validity_ends_before_its_slot_is_skipped_and_takes_no_slot(
    session, factory, clinic, dispatcher, now
):
    rate(session, per_second=1.0, burst=1)
    first = queue(session, factory, clinic, now, 1)
    doomed = queue(session, factory, clinic, now, 1, late=1, valid_for=0.5 * SECOND)
    last = queue(session, factory, clinic, now, 1, late=2)
    jobs = dispatcher.claim(100)  # its share was two: the first, and the doomed one
    assert [job.message_id for job in jobs] == [first[0].id]
    again = dispatcher.claim(100)  # the slot it did not take is the next row's
    assert [job.message_id for job in again] == [last[0].id] and offsets(again, now) == [1.0]
    session.expire_all()
    skipped = session.get(Message, doomed[0].id)
    assert (skipped.status, skipped.status_reason) == ("skipped", NO_SLOT_IN_TIME)


def test_unpaced_senders_claim_everything_due_without_slots(session, factory, dispatcher, now):
    clinic = factory.clinic()  # the embedded default: no SMS sender at all
    queue(session, factory, clinic, now, 5)
    jobs = dispatcher.claim(100)
    assert len(jobs) == 5 and {job.not_before for job in jobs} == {None}


def test_the_sweep_skips_what_waited_past_its_validity_saying_why(
    session, factory, clinic, ctx, now
):
    sender = rate(session, per_second=1.0)
    waited = queue(session, factory, clinic, now, 3, valid_for=-SECOND)
    sender.next_slot_at = now  # the sender was booked past when they fell due
    session.commit()
    other = factory.clinic()
    unclaimed = queue(session, factory, other, now, 2, valid_for=-SECOND)
    fresh = queue(session, factory, other, now, 1, valid_for=SECOND)
    assert skip_expired(ctx, now=now) == 5
    session.expire_all()
    reasons = {m.id: (m.status, m.status_reason) for m in session.exec(select(Message))}
    assert {reasons[m.id] for m in waited} == {("skipped", RATE_LIMITED)}
    assert {reasons[m.id] for m in unclaimed} == {("skipped", UNCLAIMED)}
    assert reasons[fresh[0].id][0] == "scheduled"


class TimedAdapter(ScriptedAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.instants: list[float] = []

    def send(self, message):
        self.instants.append(time.monotonic())
        return super().send(message)


def test_a_paced_sender_is_called_no_faster_than_its_slots(session, factory, clinic, ctx, now):
    rate(session, per_second=4.0)
    queue(session, factory, clinic, now, 4)
    adapter = TimedAdapter()
    live = DispatchContext(settings=ctx.settings, engine=ctx.engine, worker_id="w2",
                           options=ctx.options, adapters={Channel.SMS: adapter})  # fmt: skip
    dispatcher = Dispatcher(live)
    deadline = time.monotonic() + 20
    try:
        while len(adapter.instants) < 4 and time.monotonic() < deadline:
            dispatcher.tick(horizon=0.2)  # a slot missed on a busy machine is taken again
            dispatcher.drain(timeout=2)
    finally:
        dispatcher.stop()
    gaps = [b - a for a, b in zip(adapter.instants, adapter.instants[1:])]
    assert len(adapter.instants) == 4
    assert min(gaps) >= 0.25 - SLOT_GRACE  # slots 0.25 s apart; a call starts within grace


def test_a_page_late_for_its_slot_still_goes_and_a_routine_text_goes_back() -> None:
    now = datetime.now(UTC)

    def job(urgent: bool) -> Job:
        return Job(1, 1, None, now, urgent, None, None, "sms", now)  # type: ignore[arg-type]

    slot_long_gone = time.monotonic() - 5
    assert _missed(slot_long_gone, job(urgent=False))
    assert not _missed(slot_long_gone, job(urgent=True))
    assert not _missed(time.monotonic() + 1, job(urgent=False))
    assert not _missed(None, job(urgent=False))  # unpaced: no slot to miss


def test_a_fenced_call_not_started_within_the_reconcile_margin_is_not_started() -> None:
    now = time.monotonic()
    assert not _stale(now - 0.1, margin_seconds=2.0)
    assert _stale(now - 2.5, margin_seconds=2.0)  # the reconciler may count it as over
