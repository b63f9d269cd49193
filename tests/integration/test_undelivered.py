"""Undelivered after acceptance: a carrier's "undelivered"/"failed" status callback
(signed, through the real app, on SQLite and PostgreSQL) gets a safety message to the
patient by email with a call task for staff, sends a step's email fallback, and stops
all texts to a number that cannot take them. The last test runs the whole chain: the
real twilio SDK sends through the fake Twilio, whose signed callback reaches the live
app, and the email goes out through a real SMTP server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall

import pytest
from pydantic import SecretStr
from sqlmodel import Session, col, select

from service.db.models import Alert, Message, Patient
from service.delivery_receipts import apply_pending
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.domain import Channel, MessageKind, MessageStatus
from service.fakes.twilio_server import TEST_AUTH_TOKEN
from service.outbox import transition
from tests.factories import Factory
from tests.integration.conftest import post_status, serve_app, settings_for_twilio

PHONE = "+14155550123"


def enrolled(engine, now, **patient) -> int:  # type: ignore[no-untyped-def]
    """A consenting patient with phone and email, two days after a Botox treatment."""
    with Session(engine, expire_on_commit=False) as session:
        factory = Factory(session)
        clinic = factory.clinic(quiet_start=wall(0), quiet_end=wall(0))
        clinic.night_start = clinic.night_end = wall(0)  # no quiet window: sends go now
        values = {
            "phone": PHONE,
            "email": "ana@example.com",
            "sms_consent_at": now,
            "email_consent_at": now,
        }
        person = factory.patient(clinic, **{**values, **patient})
        factory.enrol(clinic, person, procedure_at=now - timedelta(days=2), now=now)
        return person.id  # type: ignore[return-value]


def sent(engine, now, step: str, sid: str) -> int:  # type: ignore[no-untyped-def]
    """Mark the first scheduled text of `step` as accepted by Twilio with `sid`."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.exec(
            select(Message)
            .where(
                Message.step_key == step, Message.channel == "sms", Message.status == "scheduled"
            )
            .order_by(col(Message.id))
        ).first()
        assert row is not None
        transition(session, row, MessageStatus.SENDING, reason="claimed", now=now)
        transition(session, row, MessageStatus.SENT, reason="accepted", now=now)
        row.provider_id = sid
        session.commit()
        return row.id  # type: ignore[return-value]


def copies_of(engine, message_id: int) -> list[Message]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return list(session.exec(select(Message).where(Message.fallback_of_id == message_id)))


def alerts(engine, kind: str) -> list[Alert]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return list(session.exec(select(Alert).where(Alert.kind == kind)))


def test_an_undelivered_safety_text_goes_by_email_and_asks_staff_to_phone(client, db, now):
    enrolled(db, now)
    sid = "SM" + "a" * 32
    mid = sent(db, now, "red_flag_reminder", sid)
    assert (
        post_status(client, mid=mid, sid=sid, status="undelivered", error="30003").status_code
        == 204
    )
    [copy] = copies_of(db, mid)
    assert (copy.channel, copy.kind, copy.status, copy.step_key) == (
        "email",
        "fallback",
        "scheduled",
        "red_flag_reminder",
    )
    [task] = alerts(db, "safety_undelivered")
    assert task.message_id == mid and "switched off" in task.summary
    assert "sent by email too" in task.summary and "phone the patient" in task.summary
    # A replay and a later "failed" for the same text change nothing more.
    post_status(client, mid=mid, sid=sid, status="undelivered", error="30003")
    post_status(client, mid=mid, sid=sid, status="failed", error="30003")
    assert len(copies_of(db, mid)) == 1 and len(alerts(db, "safety_undelivered")) == 1


def test_a_routine_step_with_an_email_fallback_sends_it_without_a_task(client, db, now):
    enrolled(db, now)
    sid = "SM" + "b" * 32
    mid = sent(db, now, "week2_checkin", sid)
    post_status(client, mid=mid, sid=sid, status="undelivered", error="30007")
    [copy] = copies_of(db, mid)
    assert copy.channel == "email" and copy.step_key == "week2_checkin"
    assert alerts(db, "safety_undelivered") == []


def test_a_routine_step_without_a_fallback_is_only_recorded(client, db, now):
    enrolled(db, now)
    sid = "SM" + "c" * 32
    mid = sent(db, now, "month3_checkin", sid)
    post_status(client, mid=mid, sid=sid, status="undelivered", error="30003")
    assert copies_of(db, mid) == [] and alerts(db, "safety_undelivered") == []
    with Session(db) as session:
        assert session.get(Message, mid).status == MessageStatus.UNDELIVERED  # type: ignore[union-attr]


def test_a_landline_gets_no_more_texts_and_the_safety_ones_go_by_email(client, db, now):
    patient_id = enrolled(db, now)
    sid = "SM" + "d" * 32
    mid = sent(db, now, "day3_effect", sid)
    post_status(client, mid=mid, sid=sid, status="undelivered", error="30006")
    with Session(db) as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None and patient.phone_can_sms is False
        assert "landline" in (patient.sms_unreachable_reason or "")
        texts = session.exec(
            select(Message).where(Message.channel == "sms", Message.status == "scheduled")
        ).all()
        assert texts == []
        copies = session.exec(
            select(Message).where(col(Message.dedupe_key).startswith("by-email:"))
        ).all()
    assert {c.step_key for c in copies} == {"red_flag_reminder", "week2_checkin", None}
    [task] = alerts(db, "sms_unreachable")
    assert "no more texts will be sent" in task.summary
    assert "4 red-flag reminder(s) and safety message(s) go by email" in task.summary
    post_status(client, mid=mid, sid=sid, status="failed", error="30006")
    assert len(alerts(db, "sms_unreachable")) == 1


@pytest.mark.postgres
def test_the_whole_chain_sdk_fake_twilio_signed_callback_and_smtp(
    pg_settings, pg_engine, fake_twilio, smtp_settings, smtp_server
):
    now = datetime.now(UTC)
    fake_twilio.fake.configure(undelivered={PHONE: 30006})
    base = pg_settings.model_copy(
        update={
            "twilio_auth_token": SecretStr(TEST_AUTH_TOKEN),
            "email_provider": "smtp",
            **{
                k: getattr(smtp_settings, k)
                for k in (
                    "smtp_host",
                    "smtp_port",
                    "smtp_starttls",
                    "smtp_timeout_seconds",
                    "email_from",
                )
            },
        }
    )
    patient_id = enrolled(pg_engine, now, email_consent_at=now)
    with serve_app(base, pg_engine) as app:
        settings = settings_for_twilio(app.settings, fake_twilio.url)
        dispatcher = Dispatcher(DispatchContext(settings=settings, engine=pg_engine, worker_id="t"))
        try:
            dispatcher.tick(horizon=0.5)  # the catch-up text (safety) goes to the fake
            dispatcher.drain(10)
            deadline = time.monotonic() + 15
            while not alerts(pg_engine, "sms_unreachable"):
                assert time.monotonic() < deadline, "no undelivered callback handled in 15 s"
                apply_pending(pg_engine, now=datetime.now(UTC))  # the workers' receipts job
                time.sleep(0.1)
            dispatcher.tick(horizon=0.5)  # the email copy of the catch-up
            dispatcher.drain(10)
        finally:
            dispatcher.stop(5)
    assert any(to == ["ana@example.com"] for to, _ in smtp_server.sink.received)
    with Session(pg_engine) as session:
        assert session.get(Patient, patient_id).phone_can_sms is False  # type: ignore[union-attr]
        catch_up = session.exec(
            select(Message).where(
                Message.kind == MessageKind.CATCH_UP, Message.channel == Channel.SMS
            )
        ).one()
        assert catch_up.status == MessageStatus.UNDELIVERED and catch_up.error_code == "30006"
    [task] = alerts(pg_engine, "safety_undelivered")
    assert task.message_id == catch_up.id and "sent by email too" in task.summary
