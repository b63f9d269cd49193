"""RFC 8058 for real: a plan email sent by the dispatcher through a real SMTP server
carries List-Unsubscribe (https and mailto), List-Unsubscribe-Post and a visible link,
read from the message as the server received it; both ways of using them unsubscribe."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, SQLModel, select

from service.api.app import create_app
from service.db.engine import make_engine
from service.db.models import Message, Patient
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.domain import Channel, MessageStatus
from tests.factories import Factory

INBOUND_SECRET = "inbound-secret-0123456789"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York: no quiet hours


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, smtp_settings):  # type: ignore[no-untyped-def]
    settings = smtp_settings.model_copy(
        update={
            "email_inbound_secret": SecretStr(INBOUND_SECRET),
            "public_base_url": "https://care.example",
        }
    )
    if request.param == "postgresql":
        settings = settings.model_copy(update={"database_url": request.getfixturevalue("pg_url")})
    engine = make_engine(settings)
    if request.param == "sqlite":
        SQLModel.metadata.create_all(engine)
    yield settings, engine
    engine.dispose()


def enrol_by_email(engine, language: str = "en") -> int:  # type: ignore[no-untyped-def]
    now = NOW
    with Session(engine, expire_on_commit=False) as session:
        factory = Factory(session)
        clinic = factory.clinic(name="Glow Clinic", email_from="Glow Clinic <care@glow.example>")
        patient = factory.patient(
            clinic, phone=None, email="ana@example.com", language=language, email_consent_at=now
        )
        factory.enrol(clinic, patient, procedure_at=now - timedelta(minutes=61), now=now)
        return patient.id  # type: ignore[return-value]


def dispatch_once(settings, engine) -> None:  # type: ignore[no-untyped-def]
    dispatcher = Dispatcher(
        DispatchContext(settings=settings, engine=engine, worker_id="t", clock=lambda: NOW)
    )
    try:
        deadline = time.monotonic() + 10
        while dispatcher.tick(horizon=0.2) == 0 and time.monotonic() < deadline:
            pass
        dispatcher.drain(10)
    finally:
        dispatcher.stop(5)


def test_a_plan_email_carries_working_one_click_headers_and_a_visible_link(
    world, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    settings, engine = world
    patient_id = enrol_by_email(engine)
    dispatch_once(settings, engine)

    [(recipients, received)] = smtp_server.sink.received
    assert recipients == ["ana@example.com"]
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # A long header is folded on the wire; unfolded, it is the two targets.
    https, mailto = (target.strip() for target in received["List-Unsubscribe"].split(","))
    link = re.fullmatch(r"<(https://care\.example/unsubscribe/[^>]+)>", https)
    assert link is not None, received["List-Unsubscribe"]
    assert mailto == "<mailto:care@glow.example?subject=unsubscribe>"
    plain = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert f"To stop them, open this link: {link.group(1)}" in plain
    assert f'<a href="{link.group(1)}">' in html

    with TestClient(create_app(settings, engine=engine)) as client:
        response = client.post(
            link.group(1).removeprefix("https://care.example"),
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    with Session(engine) as session:
        assert session.get(Patient, patient_id).email_opted_out_at is not None  # type: ignore[union-attr]
        pending = session.exec(
            select(Message).where(
                Message.channel == Channel.EMAIL, Message.status == MessageStatus.SCHEDULED
            )
        ).all()
        assert pending == []


def test_the_mailto_unsubscribe_reaching_the_inbound_webhook_opts_out(world) -> None:  # type: ignore[no-untyped-def]
    settings, engine = world
    patient_id = enrol_by_email(engine, language="es")
    raw = (
        b"From: Ana <ana@example.com>\r\nTo: care@glow.example\r\nSubject: unsubscribe\r\n"
        b"Message-ID: <u1@example.com>\r\n\r\n"
    )
    with TestClient(create_app(settings, engine=engine)) as client:
        response = client.post(
            "/webhooks/email/inbound", content=raw, headers={"X-Aftercare-Secret": INBOUND_SECRET}
        )
    assert response.status_code == 200 and response.json()["action"] == "opt_out"
    with Session(engine) as session:
        assert session.get(Patient, patient_id).email_opted_out_at is not None  # type: ignore[union-attr]
