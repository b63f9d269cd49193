"""Signed unsubscribe links, and what following one does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from service.api.app import create_app
from service.db.models import AuditLog, Message, MessageEvent
from service.domain import Channel, MessageKind, MessageStatus, Priority
from service.outbox import queue_message
from service.unsubscribe import (
    InvalidToken,
    list_unsubscribe_headers,
    make_token,
    unsubscribe_email,
    verify_token,
    with_footer,
)

KEY = "test-secret-key-0123456789"


def test_a_token_names_its_patient():
    assert verify_token(secret_key=KEY, token=make_token(secret_key=KEY, patient_id=42)) == 42


@pytest.mark.parametrize("mangle", [lambda t: t[:-2], lambda t: t + "x", lambda t: "A" + t[1:]])
def test_an_altered_token_is_refused(mangle):
    token = make_token(secret_key=KEY, patient_id=42)
    with pytest.raises(InvalidToken):
        verify_token(secret_key=KEY, token=mangle(token))


def test_a_token_signed_with_another_key_is_refused():
    with pytest.raises(InvalidToken):
        verify_token(secret_key=KEY, token=make_token(secret_key="other-key", patient_id=42))


def test_the_headers_follow_rfc_8058():
    headers = list_unsubscribe_headers(
        public_base_url="https://a.example/", secret_key=KEY, patient_id=7
    )
    assert headers["List-Unsubscribe"].startswith("<https://a.example/unsubscribe/")
    assert headers["List-Unsubscribe"].endswith(">")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def _queue(session, clinic, patient, channel, now, key):
    return queue_message(
        session, clinic_id=clinic.id, patient_id=patient.id, channel=channel, body="b",
        kind=MessageKind.PLAN, priority=Priority.ROUTINE, due_at=now + timedelta(days=1),
        dedupe_key=key,
    )  # fmt: skip


def test_unsubscribing_cancels_pending_email_only_and_is_audited(session, factory, now):
    clinic = factory.clinic()
    patient = factory.patient(clinic)
    other = factory.patient(clinic)
    email = _queue(session, clinic, patient, Channel.EMAIL, now, "e")
    text = _queue(session, clinic, patient, Channel.SMS, now, "s")
    others = _queue(session, clinic, other, Channel.EMAIL, now, "o")

    assert unsubscribe_email(session, patient=patient, now=now) == 1
    assert unsubscribe_email(session, patient=patient, now=now + timedelta(hours=1)) == 0
    session.commit()

    assert patient.email_opted_out_at == now  # the first click counts
    assert (email.status, text.status, others.status) == ("cancelled", "scheduled", "scheduled")
    event = session.exec(select(MessageEvent).where(MessageEvent.message_id == email.id,
                         MessageEvent.to_status == "cancelled")).one()  # fmt: skip
    assert event.reason == "patient unsubscribed from email"
    audits = session.exec(
        select(AuditLog).where(AuditLog.action == "patient.email_unsubscribed")
    ).all()
    assert len(audits) == 1 and audits[0].entity_id == patient.id


@pytest.fixture
def client(settings, engine):
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


def test_opening_the_link_asks_and_does_not_unsubscribe(client, settings, session, factory):
    patient = factory.patient(factory.clinic())
    token = make_token(secret_key=settings.secret_key.get_secret_value(), patient_id=patient.id)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and 'method="post"' in page.text
    assert "emergency" in page.text
    session.refresh(patient)
    assert patient.email_opted_out_at is None


def test_posting_the_link_unsubscribes(client, settings, session, factory, now):
    clinic = factory.clinic()
    patient = factory.patient(clinic)
    pending = _queue(session, clinic, patient, Channel.EMAIL, now, "p")
    session.commit()
    token = make_token(secret_key=settings.secret_key.get_secret_value(), patient_id=patient.id)
    response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "unsubscribed" in response.text
    session.expire_all()
    assert session.get(type(patient), patient.id).email_opted_out_at is not None
    assert session.get(Message, pending.id).status == MessageStatus.CANCELLED


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_link_is_a_readable_404_page_not_json(client, method, settings):
    response = getattr(client, method)("/unsubscribe/not-a-token")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "This link does not work" in response.text and "Este enlace no funciona" in response.text
    token = make_token(secret_key=settings.secret_key.get_secret_value(), patient_id=987654)
    assert getattr(client, method)(f"/unsubscribe/{token}").status_code == 404


def test_the_page_speaks_the_patients_language_and_names_their_clinic(client, settings, factory):
    clinic = factory.clinic(name="Clínica Sol")
    patient = factory.patient(clinic, language="es")
    token = make_token(secret_key=settings.secret_key.get_secret_value(), patient_id=patient.id)
    page = client.get(f"/unsubscribe/{token}")
    assert '<html lang="es">' in page.text and "Clínica Sol" in page.text
    assert "Darme de baja de los correos" in page.text
    done = client.post(f"/unsubscribe/{token}")
    assert "Se ha dado de baja" in done.text and "911" in done.text
    again = client.get(f"/unsubscribe/{token}")
    assert "Ya se ha dado de baja" in again.text and 'method="post"' not in again.text


def test_the_headers_offer_the_https_link_and_a_mailto(settings):
    headers = list_unsubscribe_headers(
        public_base_url="https://a.example", secret_key="k" * 20, patient_id=7,
        mailbox="Glow Clinic <care@glow.example>",
    )  # fmt: skip
    https, mailto = headers["List-Unsubscribe"].split(", ")
    assert https.startswith("<https://a.example/unsubscribe/")
    assert mailto == "<mailto:care@glow.example?subject=unsubscribe>"


def test_the_footer_adds_a_visible_link_to_text_and_html():
    url = "https://a.example/unsubscribe/abc"
    text, html = with_footer("Rest today.", "<html><body><p>Rest today.</p>\n</body></html>",
                             f"To stop them, open this link: {url}")  # fmt: skip
    assert text.endswith(f"open this link: {url}")
    assert html is not None and f'<a href="{url}">{url}</a></p>' in html
    assert html.endswith("</body></html>")
