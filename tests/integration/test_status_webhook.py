"""POST /webhooks/twilio/status: signed, idempotent, out-of-order safe, proxy-aware."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select

from service.api.app import create_app
from service.channels.base import OutboundMessage, load_adapter
from service.db.models import Message, MessageEvent, StatusCallback
from service.delivery_receipts import apply_pending
from service.domain import Channel, MessageKind, MessageStatus, Priority
from service.fakes.twilio_server import TEST_AUTH_TOKEN
from service.outbox import queue_message, transition
from tests.factories import Factory
from tests.integration.conftest import PUBLIC, SID, post_status, serve_app, settings_for_twilio


def make_message(
    db, now, *, status=MessageStatus.SENT, provider_id: str | None = SID, clinic_id=None
) -> int:
    with Session(db, expire_on_commit=False) as session:
        factory = Factory(session)
        clinic_id = clinic_id or factory.clinic().id
        message = queue_message(
            session, clinic_id=clinic_id, channel=Channel.SMS, body="Day 1",
            kind=MessageKind.PLAN, priority=Priority.ROUTINE, due_at=now,
            dedupe_key=f"t:{now}:{provider_id}", to_address="+14155550123",
        )  # fmt: skip
        transition(session, message, MessageStatus.SENDING, reason="claimed", now=now)
        if status == MessageStatus.SENT:
            transition(session, message, MessageStatus.SENT, reason="accepted", now=now)
        message.provider_id = provider_id
        session.commit()
        assert message.id is not None
        return message.id


def state(db, message_id: int) -> tuple[Message, list[MessageEvent]]:
    with Session(db, expire_on_commit=False) as session:
        message = session.get(Message, message_id)
        assert message is not None
        events = session.exec(
            select(MessageEvent)
            .where(MessageEvent.message_id == message_id)
            .order_by(MessageEvent.id)
        ).all()
        return message, list(events)


def test_a_signed_delivered_callback_marks_the_message_delivered(client, db, now):
    mid = make_message(db, now)
    response = post_status(client, mid=mid, status="delivered")
    assert response.status_code == 204
    message, events = state(db, mid)
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
    assert events[-1].provider_status == "delivered" and events[-1].actor == "provider"


@pytest.mark.parametrize("signature", ["", "bm90LXRoZS1zaWduYXR1cmU="])
def test_a_bad_or_missing_signature_is_403_and_changes_nothing(client, db, now, signature):
    mid = make_message(db, now)
    response = post_status(client, mid=mid, status="delivered", signature=signature)
    assert response.status_code == 403
    assert "detail" in response.json()
    message, events = state(db, mid)
    assert message.status == MessageStatus.SENT and len(events) == 3


def test_the_signature_is_checked_against_the_public_url_behind_a_proxy(app_settings, db, now):
    mid = make_message(db, now)
    with TestClient(create_app(app_settings, engine=db), base_url="http://internal:8000") as client:
        # Signed for the URL the app sees (not what Twilio called): refused.
        assert (
            post_status(
                client, mid=mid, status="delivered", url_base="http://internal:8000"
            ).status_code
            == 403
        )
        # Signed for PUBLIC_BASE_URL, as Twilio signs it: accepted.
        assert post_status(client, mid=mid, status="delivered").status_code == 204
    assert state(db, mid)[0].status == MessageStatus.DELIVERED


def test_a_replayed_callback_is_recorded_once(client, db, now):
    mid = make_message(db, now)
    for _ in range(3):
        assert post_status(client, mid=mid, status="delivered").status_code == 204
    message, events = state(db, mid)
    assert message.status == MessageStatus.DELIVERED
    assert [e.provider_status for e in events].count("delivered") == 1


def test_a_late_sent_never_overwrites_delivered_and_both_are_kept(client, db, now):
    mid = make_message(db, now)
    assert post_status(client, mid=mid, status="delivered").status_code == 204
    assert post_status(client, mid=mid, status="sent").status_code == 204
    message, events = state(db, mid)
    assert message.status == MessageStatus.DELIVERED
    providers = [e.provider_status for e in events if e.actor == "provider"]
    assert providers == ["delivered", "sent"]
    assert events[-1].to_status == MessageStatus.DELIVERED  # recorded, not applied


def test_a_carrier_error_is_stored_with_a_reason_staff_can_read(client, db, now):
    mid = make_message(db, now)
    assert post_status(client, mid=mid, status="undelivered", error="30003").status_code == 204
    message, events = state(db, mid)
    assert message.status == MessageStatus.UNDELIVERED
    assert message.error_code == "30003"
    assert "switched off or out of coverage" in (message.status_reason or "")
    assert events[-1].error_code == "30003"


def test_it_matches_by_message_sid_when_the_url_has_no_id(client, db, now):
    mid = make_message(db, now)
    assert post_status(client, mid=None, status="delivered").status_code == 204
    assert state(db, mid)[0].status == MessageStatus.DELIVERED


def test_an_unknown_message_still_gets_a_2xx(client, db, now):
    assert (
        post_status(client, mid=999999, status="delivered", sid="SM" + "9" * 32).status_code == 204
    )


def test_a_callback_that_beats_the_dispatchers_commit_is_applied_and_keeps_the_sid(client, db, now):
    mid = make_message(db, now, status=MessageStatus.SENDING, provider_id=None)
    assert post_status(client, mid=mid, status="sent").status_code == 204
    message, _ = state(db, mid)
    assert message.status == MessageStatus.SENT and message.provider_id == SID


@pytest.mark.postgres
def test_the_fake_twilio_servers_callbacks_reach_the_live_app(
    pg_settings, pg_engine, fake_twilio, now
):
    base = pg_settings.model_copy(update={"twilio_auth_token": SecretStr(TEST_AUTH_TOKEN)})
    with serve_app(base, pg_engine) as app:
        settings = settings_for_twilio(app.settings, fake_twilio.url)
        mid = make_message(pg_engine, now, status=MessageStatus.SENDING, provider_id=None)
        adapter = load_adapter(settings, Channel.SMS)
        receipt = adapter.send(OutboundMessage(mid, Channel.SMS, "+14155550123", "Day 1"))
        deadline = time.monotonic() + 10
        while state(pg_engine, mid)[0].status != MessageStatus.DELIVERED:
            assert time.monotonic() < deadline, "no delivered callback within 10 s"
            apply_pending(pg_engine, now=datetime.now(UTC))  # the workers' receipts job
            time.sleep(0.1)
    message, events = state(pg_engine, mid)
    assert message.provider_id == receipt.provider_id
    assert {"sent", "delivered"} <= {e.provider_status for e in events}


def test_callbacks_are_recorded_at_once_and_applied_together_later(client, db, now):
    first = make_message(db, now)
    with Session(db) as session:
        clinic_id = session.get(Message, first).clinic_id  # type: ignore[union-attr]
    second = make_message(db, now, provider_id="SM" + "2" * 32, clinic_id=clinic_id)
    for mid, sid in ((first, SID), (second, "SM" + "2" * 32)):
        for status in ("sent", "delivered", "delivered"):  # a replay among them
            assert (
                post_status(client, mid=mid, sid=sid, status=status, apply=False).status_code == 204
            )
    assert state(db, first)[0].status == MessageStatus.SENT  # recorded, not applied yet
    with Session(db) as session:
        assert len(session.exec(select(StatusCallback)).all()) == 6
    assert apply_pending(db, now=now) == 6
    for mid in (first, second):
        message, events = state(db, mid)
        assert message.status == MessageStatus.DELIVERED
        assert [e.provider_status for e in events if e.actor == "provider"] == ["sent", "delivered"]
    with Session(db) as session:
        assert session.exec(select(StatusCallback)).all() == []  # applied, then forgotten


@pytest.mark.postgres
def test_a_callback_is_acknowledged_while_its_message_row_is_locked(pg_settings, pg_engine, now):
    """Nothing a callback does waits on a message's lock (a recorder, a reconciliation):
    it is recorded and answered, and applied once the lock is gone."""
    settings = pg_settings.model_copy(
        update={"public_base_url": PUBLIC, "twilio_auth_token": SecretStr(TEST_AUTH_TOKEN)}
    )
    mid = make_message(pg_engine, now)
    answers: list[int] = []
    with TestClient(create_app(settings, engine=pg_engine)) as client, Session(pg_engine) as holder:
        holder.exec(select(Message).where(Message.id == mid).with_for_update()).one()
        post = threading.Thread(
            target=lambda: answers.append(
                post_status(client, mid=mid, status="delivered", apply=False).status_code
            )
        )
        post.start()
        post.join(10)  # before: it waited on the lock for as long as it was held
        assert answers == [204]
        holder.rollback()
    assert apply_pending(pg_engine, now=now) == 1
    assert state(pg_engine, mid)[0].status == MessageStatus.DELIVERED
