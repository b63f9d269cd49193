"""The dispatcher on an in-memory database with a scripted adapter: claim, send, record."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from service.channels.base import DeliveryError
from service.config import Settings
from service.db.models import Alert, Message, MessageEvent, Patient
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.dispatch.options import DispatchOptions
from service.dispatch.send import send_now
from service.domain import Channel, MessageKind, MessageStatus, Priority
from service.retry import RetryPolicy
from tests.dispatch_support import ScriptedAdapter, ad_hoc, consenting, enrolled, plan_row
from tests.factories import Factory


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def sms() -> ScriptedAdapter:
    return ScriptedAdapter()


@pytest.fixture
def email() -> ScriptedAdapter:
    return ScriptedAdapter(can_find_sent=False)


@pytest.fixture
def ctx(settings: Settings, engine: Engine, clock: Clock, sms, email) -> DispatchContext:
    context = DispatchContext(
        settings=settings,
        engine=engine,
        worker_id="w1",
        clock=clock,
        options=DispatchOptions(claim_ttl_seconds=30, provider_window_seconds=60),
        policy=RetryPolicy(base=timedelta(seconds=10), jitter=0),
    )
    context.adapters.update({Channel.SMS: sms, Channel.EMAIL: email})
    return context


@pytest.fixture
def dispatcher(ctx: DispatchContext):
    d = Dispatcher(ctx)
    yield d
    d.stop()


def run_all(ctx: DispatchContext, dispatcher: Dispatcher) -> list[str]:
    """Claim everything due and send it on this thread (deterministic)."""
    return send_now(ctx, dispatcher.claim(100))


def reload(session: Session, message: Message) -> Message:
    session.expire_all()
    found = session.get(Message, message.id)
    assert found is not None
    return found


def test_it_sends_a_due_message_and_records_the_provider_id(
    session, factory: Factory, ctx, dispatcher, sms, now
) -> None:
    clinic = factory.clinic()
    patient = consenting(factory, clinic)
    message = ad_hoc(session, clinic=clinic, patient=patient, due_at=now)
    assert run_all(ctx, dispatcher) == ["sent"]
    row = reload(session, message)
    assert (row.status, row.provider_id, row.sent_at) == ("sent", f"SC{row.id}x1", now)
    assert (row.attempts, row.to_address) == (1, patient.phone)
    assert [m.to for m in sms.sent] == [patient.phone]
    events = session.exec(select(MessageEvent.to_status).where(MessageEvent.message_id == row.id))
    assert list(events) == ["scheduled", "sending", "sent"]


def test_it_leaves_rows_that_are_not_due_yet(session, factory, ctx, dispatcher, now) -> None:
    clinic = factory.clinic()
    ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now + timedelta(1))
    assert dispatcher.claim(100) == []


def test_a_claimed_row_is_not_claimed_again(session, factory, ctx, dispatcher, now) -> None:
    clinic = factory.clinic()
    ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now)
    assert len(dispatcher.claim(100)) == 1
    assert dispatcher.claim(100) == []


def test_plan_rows_are_rendered_from_the_pinned_plan_at_send_time(
    session, factory, ctx, dispatcher, sms, now
) -> None:
    clinic = factory.clinic(name="Glow Clinic")
    patient = consenting(factory, clinic, first_name="Marisol")
    enrollment = enrolled(session, clinic=clinic, patient=patient, procedure_at=now - timedelta(1))
    message = plan_row(session, enrollment=enrollment, step="day1_care", due_at=now)
    assert run_all(ctx, dispatcher) == ["sent"]
    row = reload(session, message)
    assert row.body and row.body.startswith("Glow Clinic: Day 1") and "911" in row.body
    assert row.segments is not None and row.segments >= 1
    assert sms.sent[0].body == row.body


def test_a_transient_error_schedules_a_retry_per_the_policy(
    session, factory, ctx, dispatcher, sms, now
) -> None:
    clinic = factory.clinic()
    message = ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now)
    sms.outcomes.append(DeliveryError("rate limited", permanent=False, retry_after=45))
    assert run_all(ctx, dispatcher) == ["scheduled"]
    row = reload(session, message)
    assert row.next_attempt_at == now + timedelta(seconds=45)
    assert (row.claimed_by, row.error_text) == (None, "rate limited")


def test_retries_stop_at_the_validity_window(session, factory, ctx, dispatcher, sms, now) -> None:
    clinic = factory.clinic()
    message = ad_hoc(
        session,
        clinic=clinic,
        patient=consenting(factory, clinic),
        due_at=now,
        valid_until=now + timedelta(seconds=5),
    )
    sms.outcomes.append(DeliveryError("connection refused", permanent=False))
    assert run_all(ctx, dispatcher) == ["failed"]
    assert "gave up" in (reload(session, message).status_reason or "")


def test_21610_fails_the_message_and_opts_the_patient_out(
    session, factory, ctx, dispatcher, sms, now
) -> None:
    clinic = factory.clinic()
    patient = consenting(factory, clinic)
    message = ad_hoc(session, clinic=clinic, patient=patient, due_at=now)
    sms.outcomes.append(
        DeliveryError("unsubscribed", permanent=True, opted_out=True, provider_code="21610")
    )
    assert run_all(ctx, dispatcher) == ["failed"]
    assert (reload(session, message).error_code) == "21610"
    session.expire_all()
    assert session.get(Patient, patient.id).sms_opted_out_at == now


def test_a_permanent_failure_falls_back_to_email_when_the_plan_allows(
    session, factory, ctx, dispatcher, sms, email, now
) -> None:
    clinic = factory.clinic()
    patient = consenting(factory, clinic)
    enrollment = enrolled(session, clinic=clinic, patient=patient, procedure_at=now - timedelta(1))
    message = plan_row(
        session, enrollment=enrollment, step="day1_care", due_at=now, fallback=Channel.EMAIL
    )
    sms.outcomes.append(DeliveryError("not a mobile", permanent=True, not_mobile=True))
    assert run_all(ctx, dispatcher) == ["failed"]
    assert run_all(ctx, dispatcher) == ["sent"]
    fallback = session.exec(select(Message).where(Message.fallback_of_id == message.id)).one()
    assert (fallback.channel, fallback.kind, fallback.status) == ("email", "fallback", "sent")
    assert email.sent[0].to == patient.email
    # day1_care has no email template: its SMS words inside an email naming the clinic,
    # with the red flags, the emergency line and the unsubscribe link around them.
    sms_row = reload(session, message)
    sent = email.sent[0]
    assert sent.subject == f"Your aftercare message from {clinic.name}"
    assert (sms_row.body or "") in sent.body and "Call us straight away" in sent.body
    assert "In an emergency" in sent.body and "/unsubscribe/" in sent.body
    assert sent.html is not None and "/unsubscribe/" in sent.html


def test_an_email_fallback_of_a_plan_step_is_the_steps_own_email(
    session, factory, ctx, dispatcher, sms, email, now
) -> None:
    clinic = factory.clinic(name="Glow Clinic")
    patient = consenting(factory, clinic, first_name="Marisol")
    enrollment = enrolled(session, clinic=clinic, patient=patient, procedure_at=now - timedelta(14))
    message = plan_row(
        session, enrollment=enrollment, step="week2_checkin", due_at=now, fallback=Channel.EMAIL
    )
    sms.outcomes.append(DeliveryError("not a mobile", permanent=True, not_mobile=True))
    assert run_all(ctx, dispatcher) == ["failed"]
    assert run_all(ctx, dispatcher) == ["sent"]
    sent = email.sent[0]
    assert sent.subject == "Two weeks after your Botox treatment"
    assert sent.body.startswith("Hi Marisol,") and sent.body != reload(session, message).body
    assert sent.html is not None and "Marisol" in sent.html
    fallback = session.exec(select(Message).where(Message.fallback_of_id == message.id)).one()
    assert (fallback.body, fallback.subject, fallback.step_key) == (
        sent.body,
        sent.subject,
        "week2_checkin",
    )


def test_a_failed_safety_message_opens_a_staff_task(
    session, factory, ctx, dispatcher, sms, now
) -> None:
    clinic = factory.clinic()
    patient = consenting(factory, clinic, email=None)
    enrollment = enrolled(session, clinic=clinic, patient=patient, procedure_at=now - timedelta(1))
    message = plan_row(
        session,
        enrollment=enrollment,
        step="red_flag_reminder",
        due_at=now,
        priority=Priority.SAFETY,
    )
    sms.outcomes.append(DeliveryError("invalid number", permanent=True, provider_code="21211"))
    run_all(ctx, dispatcher)
    alert = session.exec(select(Alert).where(Alert.message_id == message.id)).one()
    assert (alert.severity, alert.kind, alert.status) == ("task", "safety_undelivered", "open")


def test_an_in_doubt_send_stays_sending_for_reconciliation(
    session, factory, ctx, dispatcher, sms, now
) -> None:
    clinic = factory.clinic()
    message = ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now)
    sms.outcomes.append(DeliveryError("HTTP 500", permanent=False, in_doubt=True))
    assert run_all(ctx, dispatcher) == ["in_doubt"]
    assert reload(session, message).status == MessageStatus.SENDING


def test_an_opt_out_committed_after_the_claim_still_stops_the_sms(
    session, factory, ctx, dispatcher, sms, now
) -> None:
    clinic = factory.clinic()
    patient = consenting(factory, clinic)
    message = ad_hoc(session, clinic=clinic, patient=patient, due_at=now)
    jobs = dispatcher.claim(10)
    patient.sms_opted_out_at = now
    session.add(patient)
    session.commit()
    assert send_now(ctx, jobs) == ["cancel"]
    assert sms.sent == []
    row = reload(session, message)
    assert (row.status, row.attempts) == (MessageStatus.CANCELLED, 0)


def test_a_claim_too_old_to_send_safely_is_released_unsent_in_its_place(
    session, factory, ctx, dispatcher, sms, clock, now
) -> None:
    clinic = factory.clinic()
    message = ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now)
    jobs = dispatcher.claim(10)
    clock.now = now + timedelta(seconds=31)  # the job waited behind slow calls
    assert send_now(ctx, jobs) == ["released"]
    assert sms.sent == []
    row = reload(session, message)
    assert (row.status, row.claimed_by, row.attempts) == (MessageStatus.SCHEDULED, None, 0)
    assert row.status_reason == "released: claim expired before send"
    assert row.next_attempt_at == now  # its place in the queue, not the back of it


def test_a_released_row_is_claimed_before_rows_that_fell_due_after_it(
    session, factory, ctx, dispatcher, sms, clock, now
) -> None:
    clinic = factory.clinic()
    first = ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now)
    send_now(ctx, dispatcher.claim(10), stopping=True)
    later = now + timedelta(seconds=5)
    ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=later, key="b")
    clock.now = later
    assert [job.message_id for job in dispatcher.claim(1)] == [first.id]


def test_shutdown_releases_claimed_rows_that_have_not_started(
    session, factory, ctx, dispatcher, sms, now
) -> None:
    clinic = factory.clinic()
    message = ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now)
    jobs = dispatcher.claim(10)
    assert send_now(ctx, jobs, stopping=True) == ["released"]
    assert reload(session, message).claimed_by is None
    assert dispatcher.claim(10) != []


def test_attempts_count_provider_calls_not_claims(
    session, factory, ctx, dispatcher, sms, now
) -> None:
    clinic = factory.clinic()
    message = ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now)
    for _ in range(3):  # claimed, never called: released by a stopping worker
        send_now(ctx, dispatcher.claim(10), stopping=True)
    sms.outcomes.append(DeliveryError("rate limited", permanent=False, retry_after=1))
    assert run_all(ctx, dispatcher) == ["scheduled"]
    row = reload(session, message)
    assert (row.attempts, row.claim_count) == (1, 4)


def test_a_tick_returns_at_its_horizon_while_rows_keep_falling_due(dispatcher, monkeypatch):
    """A steady trickle (every claim finds a row) must not keep the tick past its horizon:
    the scheduler would skip its next run, and rows due in that gap would wait for it."""
    claimed: list[int] = []

    def claim_and_queue(limit: int, *, urgent_only: bool = False) -> int:
        claimed.append(limit)
        if len(claimed) > 2000:
            raise AssertionError("the tick ran on past its horizon")
        time.sleep(0.001)  # a claim's round trips
        return 1

    monkeypatch.setattr(dispatcher, "_claim_and_queue", claim_and_queue)
    started = time.monotonic()
    dispatcher.tick(horizon=0.1)
    # Without the check it runs on for 2,000 claims (over 2 s); the margin is for a busy CI.
    assert time.monotonic() - started < 0.1 + 0.5
    assert len(claimed) > 1  # it did claim while the horizon lasted


@pytest.mark.parametrize(
    ("first_claim", "every", "claims"),
    [
        (0.2, 0.2, 4),  # ended past the next run (0.15), which was skipped: on to 0.3
        (0.12, 0.2, 1),  # ended before the next run: that run goes on
        (0.2, None, 1),  # called directly (no scheduler): returns at its horizon
    ],
)
def test_a_claim_that_overruns_the_next_scheduled_run_keeps_the_tick_claiming(
    dispatcher, monkeypatch, first_claim, every, claims
):
    """Under a backlog a claim may end after the scheduler's next run, which the scheduler
    then skips (one tick at a time): the tick covers for it instead of leaving the sending
    threads without claims until the run after (on a clock of its own here)."""
    now = [0.0]
    claimed: list[float] = []

    def claim_and_queue(limit: int, *, urgent_only: bool = False) -> int:
        claimed.append(now[0])
        now[0] += first_claim if len(claimed) == 1 else 0.04
        return limit

    monkeypatch.setattr("service.dispatch.dispatcher.time.monotonic", lambda: now[0])
    monkeypatch.setattr(dispatcher, "_claim_and_queue", claim_and_queue)
    dispatcher.tick(horizon=0.1, every=every, early=0.05)
    assert len(claimed) == claims


def test_a_batch_records_every_sent_row_with_its_own_provider_id_and_events(
    session, factory, ctx, dispatcher, sms, now
) -> None:
    clinic = factory.clinic()
    rows = [
        ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now, key=f"k{i}")
        for i in range(5)
    ]
    assert send_now(ctx, dispatcher.claim(10)) == ["sent"] * 5
    for message in rows:
        row = reload(session, message)
        assert (row.status, row.sent_at, row.provider) == ("sent", now, "scripted")
        assert row.provider_id is not None and row.provider_id.startswith(f"SC{row.id}x")
        events = session.exec(
            select(MessageEvent.from_status, MessageEvent.to_status, MessageEvent.reason)
            .where(MessageEvent.message_id == row.id)
            .order_by(MessageEvent.id)
        ).all()
        assert [tuple(e) for e in events][1:] == [
            ("scheduled", "sending", "claimed by w1"),
            ("sending", "sent", "accepted by the provider"),
        ]


def test_a_stale_claim_token_is_not_sent(session, factory, ctx, dispatcher, sms, now) -> None:
    clinic = factory.clinic()
    ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now)
    job = dispatcher.claim(10)[0]
    assert send_now(ctx, [dataclasses.replace(job, claim=job.claim + 1)]) == ["lost"]
    assert sms.sent == []


def test_a_render_error_fails_the_row_with_the_reason(
    session, factory, ctx, dispatcher, now
) -> None:
    clinic = factory.clinic()
    patient = consenting(factory, clinic)
    enrollment = enrolled(session, clinic=clinic, patient=patient, procedure_at=now - timedelta(1))
    message = plan_row(session, enrollment=enrollment, step="no_such_step", due_at=now)
    assert dispatcher.claim(10) == []
    row = reload(session, message)
    assert row.status == MessageStatus.FAILED
    assert "no_such_step" in (row.status_reason or "")


def test_pages_go_to_the_on_call_number_not_the_patient(
    session, factory, ctx, dispatcher, sms, now
) -> None:
    clinic = factory.clinic()
    patient = consenting(factory, clinic)
    ad_hoc(
        session,
        clinic=clinic,
        patient=patient,
        due_at=now,
        kind=MessageKind.PAGE,
        to_address="+14155559999",
    )
    run_all(ctx, dispatcher)
    assert [m.to for m in sms.sent] == ["+14155559999"]
