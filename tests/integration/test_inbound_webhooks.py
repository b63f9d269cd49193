"""POST /webhooks/twilio/sms and /webhooks/email/inbound on SQLite and PostgreSQL:
signed, idempotent, proxy-aware, never a provider call inside the request."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select

from service import accounts
from service.api.app import create_app
from service.channels.twilio_webhooks import sign
from service.db.models import Alert, InboundMessage, Message, Patient
from service.domain import MessageKind
from service.fakes.twilio_server import TEST_AUTH_TOKEN
from tests.factories import Factory

pytestmark = pytest.mark.parallel

PUBLIC = "https://aftercare.example"
CLINIC_NUMBER = "+14155550999"
PATIENT_PHONE = "+14155550123"
SECRET = "inbound-secret-0123456789"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, settings, engine):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return settings, engine
    return request.getfixturevalue("pg_settings"), request.getfixturevalue("pg_engine")


@pytest.fixture
def db(backend):  # type: ignore[no-untyped-def]
    return backend[1]


@pytest.fixture
def client(backend):  # type: ignore[no-untyped-def]
    settings = backend[0].model_copy(
        update={
            "public_base_url": PUBLIC,
            "twilio_auth_token": SecretStr(TEST_AUTH_TOKEN),
            "email_inbound_secret": SecretStr(SECRET),
        }
    )
    with TestClient(create_app(settings, engine=backend[1])) as client:
        yield client


@pytest.fixture
def patient_id(db) -> int:  # type: ignore[no-untyped-def]
    with Session(db, expire_on_commit=False) as session:
        factory = Factory(session)
        clinic = factory.clinic(sms_from=CLINIC_NUMBER, email_from="care@glow.test")
        accounts.add_oncall(session, clinic=clinic, name="Dr A", phone="+14155550501", email=None)
        patient = factory.patient(clinic, phone=PATIENT_PHONE, email="ana@example.test")
        session.commit()
        assert patient.id is not None
        return patient.id


def sms_params(body: str, *, sid: str = "SM" + "1" * 32, sender: str = PATIENT_PHONE) -> dict:  # type: ignore[type-arg]
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender,
            "To": CLINIC_NUMBER, "Body": body, "NumMedia": "0"}  # fmt: skip


def post_sms(client, params, *, base: str = PUBLIC, signature: str | None = None, query=""):  # type: ignore[no-untyped-def]
    path = f"/webhooks/twilio/sms{query}"
    if signature is None:
        signature = sign(auth_token=TEST_AUTH_TOKEN, url=base + path, params=params)
    return client.post(
        path,
        content=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": signature},
    )  # fmt: skip


def count(db, model, **where) -> int:  # type: ignore[no-untyped-def]
    with Session(db) as session:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return len(session.exec(query).all())


def test_a_signed_sms_is_recorded_and_answered_with_empty_twiml(client, db, patient_id) -> None:  # type: ignore[no-untyped-def]
    response = post_sms(client, sms_params("HELP"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.endswith("<Response/>")
    assert count(db, InboundMessage, patient_id=patient_id) == 1
    assert count(db, Message, kind=MessageKind.AUTO_REPLY, status="scheduled") == 1


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
def test_a_bad_or_missing_signature_is_refused(client, db, patient_id, signature) -> None:  # type: ignore[no-untyped-def]
    response = post_sms(client, sms_params("STOP"), signature=signature)
    assert response.status_code == 403
    assert count(db, InboundMessage) == 0


def test_a_signature_for_another_body_is_refused(client, db, patient_id) -> None:  # type: ignore[no-untyped-def]
    good = sign(auth_token=TEST_AUTH_TOKEN, url=PUBLIC + "/webhooks/twilio/sms",
                params=sms_params("hello"))  # fmt: skip
    assert post_sms(client, sms_params("STOP"), signature=good).status_code == 403


def test_behind_a_proxy_the_signature_is_checked_against_the_public_url(
    client,
    db,
    patient_id,  # type: ignore[no-untyped-def]
) -> None:
    # The test client talks to http://testserver; Twilio signed the public https URL.
    assert post_sms(client, sms_params("HELP"), query="?c=1").status_code == 200
    internal = post_sms(client, sms_params("HELP", sid="SM" + "2" * 32), base="http://testserver")
    assert internal.status_code == 403


def test_a_replayed_webhook_is_recorded_once(client, db, patient_id) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        assert post_sms(client, sms_params("my lips are turning blue")).status_code == 200
    assert count(db, InboundMessage) == 1
    assert count(db, Alert) == 1
    assert count(db, Message, kind=MessageKind.AUTO_REPLY) == 1


def test_stop_by_webhook_opts_the_patient_out(client, db, patient_id) -> None:  # type: ignore[no-untyped-def]
    assert post_sms(client, sms_params("Stop please")).status_code == 200
    with Session(db) as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None and patient.sms_opted_out_at is not None


def test_a_media_only_mms_is_kept(client, db, patient_id) -> None:  # type: ignore[no-untyped-def]
    params = sms_params("") | {"NumMedia": "1", "MediaUrl0": "https://api.twilio.test/m/ME1",
                               "MediaContentType0": "image/jpeg"}  # fmt: skip
    assert post_sms(client, params).status_code == 200
    with Session(db) as session:
        [inbound] = session.exec(select(InboundMessage)).all()
        assert inbound.media_urls == ["https://api.twilio.test/m/ME1"]


def test_an_unparseable_form_is_a_clear_422_not_a_500(client, db) -> None:  # type: ignore[no-untyped-def]
    params = {"From": PATIENT_PHONE, "Body": "hi"}
    response = post_sms(client, params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "MessageSid"


def test_an_unknown_number_is_answered_once(client, db, patient_id) -> None:  # type: ignore[no-untyped-def]
    post_sms(client, sms_params("hi", sender="+14155550777"))
    post_sms(client, sms_params("hello?", sid="SM" + "3" * 32, sender="+14155550777"))
    assert count(db, InboundMessage) == 2
    assert count(db, Message, to_address="+14155550777") == 1


def raw_email(body: str, *, message_id: str = "<m1@example.test>") -> bytes:
    message = EmailMessage()
    message["From"] = "Ana <ana@example.test>"
    message["To"] = "care@glow.test"
    message["Subject"] = "Re: day 3"
    message["Message-ID"] = message_id
    message.set_content(body)
    return bytes(message)


QUOTED = """All fine, thanks

On Mon, Mar 2, 2026 at 10:00 AM Glow Clinic <care@glow.test> wrote:
> Call us if you get a fever or pus. Reply STOP to opt out.
"""


def post_email(client, raw: bytes, headers: dict | None = None):  # type: ignore[no-untyped-def]
    headers = {"X-Aftercare-Secret": SECRET} if headers is None else headers
    return client.post("/webhooks/email/inbound", content=raw,
                       headers={"Content-Type": "message/rfc822", **headers})  # fmt: skip


def test_an_email_reply_is_matched_by_sender_and_quotes_never_trigger(
    client,
    db,
    patient_id,  # type: ignore[no-untyped-def]
) -> None:
    response = post_email(client, raw_email(QUOTED))
    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    with Session(db) as session:
        [inbound] = session.exec(select(InboundMessage)).all()
        assert inbound.patient_id == patient_id and inbound.triaged_text == "All fine, thanks"
        patient = session.get(Patient, patient_id)
        assert patient is not None and patient.email_opted_out_at is None
    assert count(db, Alert) == 0


def test_an_urgent_email_pages_and_a_replay_is_a_duplicate(client, db, patient_id) -> None:  # type: ignore[no-untyped-def]
    raw = raw_email("My face is drooping on one side\n\n" + QUOTED.split("\n", 2)[2])
    assert post_email(client, raw).json()["action"] == "urgent"
    assert post_email(client, raw).json()["duplicate"] is True
    assert count(db, Alert, severity="urgent") == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Aftercare-Secret": "wrong"}, {"Authorization": "Bearer wrong"}],
)
def test_the_email_webhook_needs_the_shared_secret(client, db, headers) -> None:  # type: ignore[no-untyped-def]
    assert post_email(client, raw_email("hi"), headers).status_code == 403
    assert count(db, InboundMessage) == 0


def test_the_secret_may_come_as_a_bearer_token(client, db, patient_id) -> None:  # type: ignore[no-untyped-def]
    response = post_email(client, raw_email("hi"), {"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 200


def test_an_email_without_a_sender_is_a_422_naming_it(client, db) -> None:  # type: ignore[no-untyped-def]
    response = post_email(client, b"Subject: hi\r\n\r\nbody")
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "From"
