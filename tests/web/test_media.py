"""MMS photos through the service's authenticated proxy, against the fake Twilio's media
(Basic auth, then a redirect to storage that refuses credentials)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.api.app import create_app
from service.db.models import InboundMessage
from service.fakes.twilio_server import PNG, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, FakeTwilioServer
from service.inbox import enter
from tests.web.conftest import login


@pytest.fixture
def twilio() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer() as server:
        yield server


@pytest.fixture
def client(settings, engine, twilio) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = settings.model_copy(update={
        "twilio_account_sid": TEST_ACCOUNT_SID, "twilio_auth_token": SecretStr(TEST_AUTH_TOKEN),
        "twilio_api_base_url": twilio.url, "twilio_timeout_seconds": 2.0,
    })  # fmt: skip
    with TestClient(create_app(settings, engine=engine), base_url="https://testserver") as client:
        yield client


def photo_reply(session, clinic, patient, urls: list[str]) -> InboundMessage:  # type: ignore[no-untyped-def]
    inbound = InboundMessage(provider_id=f"MM{len(urls)}{urls[0][-6:]}", channel="sms",
                             clinic_id=clinic.id, patient_id=patient.id,
                             from_address=patient.phone, body="", media_urls=urls)  # fmt: skip
    session.add(inbound)
    session.flush()
    enter(session, inbound=inbound, clinic=clinic, label="other", now=inbound.received_at,
          patient=patient)  # fmt: skip
    session.commit()
    return inbound


def test_staff_see_a_photo_through_the_service_never_the_providers_url(
    client, factory, clinic, staff, session, twilio
) -> None:  # type: ignore[no-untyped-def]
    ana = factory.patient(clinic, first_name="Ana")
    reply = photo_reply(session, clinic, ana, [twilio.add_media()])
    login(client, staff)
    for page in (client.get("/app/replies").text, client.get(f"/app/patients/{ana.id}").text):
        assert f'src="/app/media/{reply.id}/0"' in page
        assert twilio.url not in page and "api.twilio.com" not in page
    photo = client.get(f"/app/media/{reply.id}/0")
    assert photo.status_code == 200 and photo.content == PNG
    assert photo.headers["content-type"] == "image/png"
    assert photo.headers["content-disposition"].startswith("inline")
    assert photo.headers["cache-control"] == "private, no-store"


def test_anything_but_an_image_is_only_a_download(
    client, factory, clinic, staff, session, twilio
) -> None:  # type: ignore[no-untyped-def]
    html = twilio.add_media(content_type="text/html", data=b"<script>x</script>")
    reply = photo_reply(session, clinic, factory.patient(clinic), [html])
    login(client, staff)
    download = client.get(f"/app/media/{reply.id}/0")
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in download.headers["content-security-policy"]


def test_a_photo_too_large_a_foreign_address_or_another_clinics_reply_is_refused(
    client, factory, clinic, staff, session, twilio
) -> None:  # type: ignore[no-untyped-def]
    ana = factory.patient(clinic)
    big = twilio.add_media(content_type="image/jpeg", data=b"x" * (5 * 1024 * 1024 + 1))
    reply = photo_reply(session, clinic, ana, [big, "https://evil.example/steal.png"])
    other = factory.clinic(name="Elsewhere")
    theirs = photo_reply(session, other, factory.patient(other), [twilio.add_media()])
    login(client, staff)
    assert client.get(f"/app/media/{reply.id}/0").status_code == 413
    assert client.get(f"/app/media/{reply.id}/1").status_code == 404
    assert client.get(f"/app/media/{reply.id}/2").status_code == 404
    assert client.get(f"/app/media/{theirs.id}/0").status_code == 404


def test_without_twilio_credentials_the_page_says_what_to_set(
    factory, clinic, staff, session, settings, engine, twilio
) -> None:  # type: ignore[no-untyped-def]
    reply = photo_reply(session, clinic, factory.patient(clinic), [twilio.add_media()])
    with TestClient(create_app(settings, engine=engine), base_url="https://testserver") as bare:
        login(bare, staff)
        response = bare.get(f"/app/media/{reply.id}/0")
    assert response.status_code == 502 and "TWILIO_AUTH_TOKEN" in response.text
