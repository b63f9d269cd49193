"""Staff replies from the thread: sent at once, never through an opted-out channel."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from service.composer import Composer
from service.db.models import AuditLog, Clinic, Message, Patient, ReplyItem
from service.dispatch.checks import Action, Subject, check
from service.domain import MessageKind, Priority, Role
from service.inbox.staff_reply import StaffReplyError, night_for, send_staff_reply
from tests.factories import Factory
from tests.inbound_support import Inbox, oncall_clinic, rows


@pytest.fixture
def clinic(factory: Factory, session: Session) -> Clinic:
    return oncall_clinic(factory, session, name="Lakeside Aesthetics")


@pytest.fixture
def patient(factory: Factory, clinic: Clinic) -> Patient:
    return factory.patient(clinic, first_name="Ana", phone="+14155550123", email="ana@example.test")


def reply(session: Session, composer: Composer, clinic: Clinic, patient: Patient, now: datetime,
          **kw: object) -> Message:  # fmt: skip
    sent = send_staff_reply(session, composer=composer, clinic=clinic, patient=patient,
                            actor="user:9", now=now, **kw)  # type: ignore[arg-type]  # fmt: skip
    return sent.message


def test_a_staff_reply_is_queued_now_urgent_named_for_the_clinic_and_audited(
    session: Session, composer: Composer, clinic: Clinic, patient: Patient, now: datetime
) -> None:
    message = reply(session, composer, clinic, patient, now, text="Hi Ana, that is normal.")
    assert (message.kind, message.priority, message.channel) == ("staff_reply", "urgent", "sms")
    assert (message.due_at, message.patient_id, message.status) == (now, patient.id, "scheduled")
    assert message.body is not None
    assert message.body.startswith("Lakeside Aesthetics: Hi Ana, that is normal.")
    assert "Emergency: call 911" in message.body
    [audit] = rows(session, AuditLog, action="message.staff_reply")
    assert (audit.actor, audit.entity_id) == ("user:9", patient.id)
    assert audit.detail == {"message_id": message.id, "channel": "sms"}


def test_a_staff_reply_goes_on_the_channel_the_patient_last_wrote_on(
    session: Session, composer: Composer, clinic: Clinic, patient: Patient, now: datetime
) -> None:
    Inbox(session, composer, now).handle(_email_from(patient))
    message = reply(session, composer, clinic, patient, now, text="Thanks for the photo.")
    assert message.channel == "email"
    assert message.subject == "A message from Lakeside Aesthetics"


def _email_from(patient: Patient):  # type: ignore[no-untyped-def]
    from service.domain import Channel
    from service.inbound.reply import InboundReply

    return InboundReply(provider_id="<q@example.test>", channel=Channel.EMAIL,
                        from_address=patient.email or "", to_address="care@glow.test",
                        body="is this normal?", text="is this normal?")  # fmt: skip


def test_replying_handles_the_patients_unread_replies(
    session: Session, composer: Composer, clinic: Clinic, patient: Patient, now: datetime
) -> None:
    Inbox(session, composer, now).sms("is the swelling normal?")
    reply(session, composer, clinic, patient, now + timedelta(minutes=5), text="Yes, for a week.")
    [item] = rows(session, ReplyItem)
    assert (item.handled_by, item.handled_note) == ("user:9", "replied")


@pytest.mark.parametrize(
    ("change", "channel", "words"),
    [
        ({"sms_opted_out_at": "now"}, "sms", "texted STOP"),
        ({"phone_can_sms": False}, "sms", "cannot take texts"),
        ({"email_opted_out_at": "now"}, "email", "unsubscribed from email"),
    ],
)
def test_a_reply_through_a_channel_the_patient_left_is_refused_saying_why(
    session: Session, composer: Composer, clinic: Clinic, patient: Patient, now: datetime,
    change: dict[str, object], channel: str, words: str,
) -> None:  # fmt: skip
    for name, value in change.items():
        setattr(patient, name, now if value == "now" else value)
    with pytest.raises(StaffReplyError) as refused:
        reply(session, composer, clinic, patient, now, text="Hello", channel=channel)
    assert refused.value.conflict and words in refused.value.message
    assert rows(session, Message, kind=MessageKind.STAFF_REPLY) == []


def test_the_same_key_sends_once(
    session: Session, composer: Composer, clinic: Clinic, patient: Patient, now: datetime
) -> None:
    first = reply(session, composer, clinic, patient, now, text="Hello", key="form-1")
    again = send_staff_reply(session, composer=composer, clinic=clinic, patient=patient,
                             actor="user:9", now=now, text="Hello", key="form-1")  # fmt: skip
    assert not again.created and again.message.id == first.id
    assert len(rows(session, Message, kind=MessageKind.STAFF_REPLY)) == 1


def test_quiet_hours_do_not_hold_a_staff_reply_but_opt_out_still_cancels_it(
    session: Session, composer: Composer, clinic: Clinic, patient: Patient, now: datetime
) -> None:
    night = datetime.fromisoformat("2026-03-03T04:00:00+00:00")  # 23:00 in New York
    message = reply(session, composer, clinic, patient, night, text="Call us in the morning")
    subject = Subject(message=message, patient=patient, enrollment=None, clinic=clinic)
    assert check(subject, now=night, hold=timedelta(minutes=15)).action == Action.SEND
    assert night_for(patient, clinic, night) == "23:00 EST"
    assert night_for(patient, clinic, now) is None  # 10:00
    patient.sms_consent_at = now  # a plan message needs it; a person's reply does not
    plan = Message(**{**message.model_dump(), "kind": MessageKind.PLAN,
                      "priority": Priority.ROUTINE})  # fmt: skip
    held = check(Subject(message=plan, patient=patient, enrollment=None, clinic=clinic),
                 now=night, hold=timedelta(minutes=15))  # fmt: skip
    assert held.action == Action.HOLD
    patient.sms_opted_out_at = night
    assert check(subject, now=night, hold=timedelta(minutes=15)).action == Action.CANCEL


# --- REST -------------------------------------------------------------------------------


@pytest.fixture
def client(api_client: TestClient) -> TestClient:
    return api_client


def test_rest_sends_a_staff_reply_once_per_idempotency_key(
    client: TestClient, factory: Factory, clinic: Clinic, patient: Patient, session: Session
) -> None:
    headers = {"Authorization": f"Bearer {factory.api_key(factory.user(clinic))}",
               "Idempotency-Key": "abc"}  # fmt: skip
    url = f"/api/v1/patients/{patient.id}/messages"
    first = client.post(url, json={"text": "See you at 3pm"}, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["kind"] == "staff_reply" and first.json()["channel"] == "sms"
    again = client.post(url, json={"text": "See you at 3pm"}, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_rest_refuses_an_opted_out_channel_with_409_and_bad_input_with_422(
    client: TestClient, factory: Factory, clinic: Clinic, patient: Patient, session: Session,
    now: datetime,
) -> None:  # fmt: skip
    headers = {"Authorization": f"Bearer {factory.api_key(factory.user(clinic))}"}
    patient.sms_opted_out_at = now
    session.add(patient)
    session.commit()
    url = f"/api/v1/patients/{patient.id}/messages"
    refused = client.post(url, json={"text": "Hello", "channel": "sms"}, headers=headers)
    assert refused.status_code == 409 and "START" in refused.json()["detail"]
    for body, field in (({"text": ""}, "text"), ({"text": "x", "channel": "fax"}, "channel"),
                        ({"text": "x" * 1201}, "text")):  # fmt: skip
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 422 and response.json()["detail"][0]["field"] == field


def test_rest_staff_replies_stay_in_their_clinic_and_operators_cannot_send(
    client: TestClient, factory: Factory, patient: Patient
) -> None:
    elsewhere = factory.api_key(factory.user(factory.clinic()))
    operator = factory.api_key(factory.user(None, Role.OPERATOR))
    url = f"/api/v1/patients/{patient.id}/messages"
    other = client.post(url, json={"text": "x"}, headers={"Authorization": f"Bearer {elsewhere}"})
    assert other.status_code == 404
    ops = client.post(url, json={"text": "x"}, headers={"Authorization": f"Bearer {operator}"})
    assert ops.status_code == 403
