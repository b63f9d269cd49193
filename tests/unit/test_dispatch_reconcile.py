"""Reconciliation of rows left in `sending`: ask the provider, never resend blindly."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from service.channels.base import DeliveryError, Receipt
from service.db.models import Message
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.dispatch.fence import Fence, start_calls
from service.dispatch.options import DispatchOptions
from service.dispatch.reconcile import reconcile_in_doubt
from service.dispatch.send import send_now
from service.domain import Channel, MessageStatus
from service.retry import RetryPolicy
from tests.dispatch_support import ScriptedAdapter, ad_hoc, consenting

SMS_HORIZON = timedelta(seconds=5 + 2)  # the SMS adapter's timeout + the margin


@pytest.fixture
def sms() -> ScriptedAdapter:
    return ScriptedAdapter()


@pytest.fixture
def email() -> ScriptedAdapter:
    return ScriptedAdapter(can_find_sent=False)


@pytest.fixture
def ctx(settings, engine, now, sms, email) -> DispatchContext:
    settings = settings.model_copy(
        update={"twilio_timeout_seconds": 5.0, "smtp_timeout_seconds": 15.0}
    )
    context = DispatchContext(
        settings=settings,
        engine=engine,
        worker_id="w1",
        clock=lambda: now,
        options=DispatchOptions(claim_ttl_seconds=10, provider_window_seconds=60),
        policy=RetryPolicy(base=timedelta(seconds=10), jitter=0),
    )
    context.adapters.update({Channel.SMS: sms, Channel.EMAIL: email})
    return context


def queued(session: Session, factory, now: datetime, channel: Channel = Channel.SMS) -> Message:
    clinic = factory.clinic()
    return ad_hoc(
        session, clinic=clinic, patient=consenting(factory, clinic), due_at=now, channel=channel
    )


def in_doubt(
    session: Session,
    factory,
    ctx: DispatchContext,
    adapter: ScriptedAdapter,
    now: datetime,
    channel: Channel = Channel.SMS,
) -> Message:
    """A row whose call answered 5xx: the call is over, its outcome unknown."""
    message = queued(session, factory, now, channel)
    dispatcher = Dispatcher(ctx)
    adapter.outcomes.append(DeliveryError("HTTP 502", permanent=False, in_doubt=True))
    assert send_now(ctx, dispatcher.claim(5)) == ["in_doubt"]
    dispatcher.stop()
    session.expire_all()
    return session.get(Message, message.id)


def in_flight(
    session: Session, factory, ctx: DispatchContext, now: datetime, channel: Channel = Channel.SMS
) -> Message:
    """A row whose call was started (its fence committed) when its worker died."""
    message = queued(session, factory, now, channel)
    job = Dispatcher(ctx).claim(5)[0]
    with ctx.engine.connect() as connection:
        fence = Fence(job.message_id, job.claim, job.opt_out)
        assert start_calls(connection, [fence], now=now, ttl=ctx.options.claim_ttl)
    session.expire_all()
    return session.get(Message, message.id)


def test_a_call_that_may_still_be_running_is_left_alone(session, factory, ctx, sms, now) -> None:
    message = in_flight(session, factory, ctx, now)
    report = reconcile_in_doubt(ctx, now=now + SMS_HORIZON - timedelta(seconds=1))
    assert report.found == report.retried == report.waiting == report.released == []
    assert sms.asked == []
    assert session.get(Message, message.id).status == MessageStatus.SENDING


def test_an_answered_in_doubt_call_is_asked_about_at_once(session, factory, ctx, sms, now) -> None:
    message = in_doubt(session, factory, ctx, sms, now)
    sms.found[message.id] = Receipt("scripted", "SMfound")
    assert reconcile_in_doubt(ctx, now=now).found == [message.id]


def test_what_the_provider_has_is_marked_sent_with_its_id(session, factory, ctx, sms, now) -> None:
    message = in_flight(session, factory, ctx, now)
    sms.found[message.id] = Receipt("scripted", "SMfound")
    report = reconcile_in_doubt(ctx, now=now + SMS_HORIZON + timedelta(seconds=1))
    assert report.found == [message.id]
    session.expire_all()
    row = session.get(Message, message.id)
    assert (row.status, row.provider_id, row.attempts) == ("sent", "SMfound", 1)
    assert sms.sent == []


def test_a_call_cut_off_by_a_crash_and_not_found_goes_again_at_once_in_its_place(
    session, factory, ctx, sms, now
) -> None:
    message = in_flight(session, factory, ctx, now)
    early = now + SMS_HORIZON + timedelta(seconds=30)
    assert reconcile_in_doubt(ctx, now=early).waiting == [message.id]  # the listing may lag
    late = now + SMS_HORIZON + timedelta(seconds=61)
    assert reconcile_in_doubt(ctx, now=late).retried == [message.id]
    session.expire_all()
    row = session.get(Message, message.id)
    assert (row.status, row.attempts, row.call_started_at) == (MessageStatus.SCHEDULED, 1, None)
    assert row.next_attempt_at == now  # its place: the provider was not at fault


def test_a_5xx_not_found_retries_after_the_policys_backoff(session, factory, ctx, sms, now):
    message = in_doubt(session, factory, ctx, sms, now)
    late = now + SMS_HORIZON + timedelta(seconds=61)
    assert reconcile_in_doubt(ctx, now=late).retried == [message.id]
    session.expire_all()
    assert session.get(Message, message.id).next_attempt_at == late + timedelta(seconds=10)


def test_an_adapter_that_cannot_tell_sends_the_row_to_review(
    session, factory, ctx, email, now
) -> None:
    message = in_doubt(session, factory, ctx, email, now, channel=Channel.EMAIL)
    report = reconcile_in_doubt(ctx, now=now + timedelta(hours=1))
    assert report.review == [message.id]
    session.expire_all()
    assert session.get(Message, message.id).status == MessageStatus.REVIEW


def test_each_channel_waits_out_its_own_timeout(session, factory, ctx, sms, email, now) -> None:
    text = in_flight(session, factory, ctx, now)
    mail = in_flight(session, factory, ctx, now, channel=Channel.EMAIL)
    sms.found[text.id] = Receipt("scripted", "SMfound")
    # Past the SMS adapter's 5 s timeout, within SMTP's 15 s: only the text is over.
    report = reconcile_in_doubt(ctx, now=now + SMS_HORIZON + timedelta(seconds=1))
    assert (report.found, report.review) == ([text.id], [])
    later = now + timedelta(seconds=15 + 2 + 1)
    assert reconcile_in_doubt(ctx, now=later).review == [mail.id]


def test_a_claim_abandoned_before_any_call_goes_back_in_its_place_without_asking(
    session, factory, ctx, sms, now
) -> None:
    message = queued(session, factory, now)
    Dispatcher(ctx).claim(5)  # the worker dies before any call
    assert reconcile_in_doubt(ctx, now=now + timedelta(seconds=10)).released == []  # TTL 10 s
    report = reconcile_in_doubt(ctx, now=now + timedelta(seconds=10 + 2 + 1))
    assert report.released == [message.id]
    assert sms.asked == []
    session.expire_all()
    row = session.get(Message, message.id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("scheduled", 0, now)


def test_a_provider_id_owned_by_another_row_is_not_this_rows_send(
    session, factory, ctx, sms, now
) -> None:
    clinic = factory.clinic()
    other = ad_hoc(
        session, clinic=clinic, patient=None, due_at=now, to_address="+14155550999", key="other"
    )
    other.provider_id, other.status = "SMtwin", MessageStatus.SENT
    session.add(other)
    session.commit()
    message = in_doubt(session, factory, ctx, sms, now)
    sms.found[message.id] = Receipt("scripted", "SMtwin")
    report = reconcile_in_doubt(ctx, now=now + SMS_HORIZON + timedelta(seconds=61))
    assert report.retried == [message.id]


def test_an_in_doubt_smtp_email_goes_to_review_because_smtp_cannot_list_what_it_sent(settings):
    from service.channels.smtp_email import SmtpEmailAdapter
    from service.dispatch.reconcile import _can_find_sent

    adapter = SmtpEmailAdapter(settings=settings)
    assert adapter.can_find_sent is False
    assert not _can_find_sent(adapter, "email")
