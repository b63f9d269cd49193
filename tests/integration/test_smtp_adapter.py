"""Email through a real SMTP server (aiosmtpd): content, headers, errors, unsubscribe."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import select

from service.api.app import create_app
from service.channels.base import DeliveryError, OutboundMessage, load_adapter
from service.channels.smtp_email import SmtpEmailAdapter
from service.db.models import AuditLog, Message
from service.domain import Channel, MessageKind, MessageStatus, Priority
from service.outbox import queue_message
from service.unsubscribe import list_unsubscribe_headers
from tests.integration.conftest import SmtpSink, free_port


def email(**overrides) -> OutboundMessage:
    values = {
        "message_id": 12,
        "channel": Channel.EMAIL,
        "to": "pat@example.test",
        "subject": "Day 1 after your procedure",
        "body": "Rest today. In an emergency call 911.",
        "html": "<p>Rest today. In an emergency call <b>911</b>.</p>",
    }
    values.update(overrides)
    return OutboundMessage(**values)  # type: ignore[arg-type]


def test_the_registry_builds_the_smtp_adapter(smtp_settings):
    assert isinstance(load_adapter(smtp_settings, Channel.EMAIL), SmtpEmailAdapter)


def test_it_sends_plain_text_and_html_alternatives_with_a_message_id(smtp_settings, smtp_server):
    receipt = load_adapter(smtp_settings, Channel.EMAIL).send(email())

    [(recipients, received)] = smtp_server.sink.received
    assert recipients == ["pat@example.test"]
    assert received["From"] == "Aftercare <care@clinic.example>"
    assert received["Subject"] == "Day 1 after your procedure"
    assert received["Date"]
    assert received["Message-ID"] == f"<{receipt.provider_id}>"
    assert receipt.provider == "smtp" and receipt.provider_id.endswith("@clinic.example")
    assert len(receipt.provider_id) <= 64
    assert received.get_content_type() == "multipart/alternative"
    plain = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert plain is not None and "In an emergency call 911." in plain.get_content()
    assert html is not None and "<b>911</b>" in html.get_content()


def test_a_text_only_email_has_a_single_part(smtp_settings, smtp_server):
    load_adapter(smtp_settings, Channel.EMAIL).send(email(html=None))
    [(_, received)] = smtp_server.sink.received
    assert received.get_content_type() == "text/plain"


@pytest.mark.parametrize(
    ("where", "reply", "permanent"),
    [
        ("data", "451 4.3.0 Mailbox busy, try later", False),
        ("data", "554 5.7.1 Rejected as spam", True),
        ("rcpt", "450 4.2.1 Try again", False),
        ("rcpt", "550 5.1.1 No such user", True),
    ],
)
def test_smtp_4xx_is_transient_and_5xx_permanent(
    smtp_settings, smtp_server, where, reply, permanent
):
    replies = smtp_server.sink.replies if where == "data" else smtp_server.sink.rcpt_replies
    replies.append(reply)
    with pytest.raises(DeliveryError) as caught:
        load_adapter(smtp_settings, Channel.EMAIL).send(email())
    error = caught.value
    assert error.permanent is permanent and not error.in_doubt
    assert error.provider_code == reply[:3]
    assert smtp_server.sink.received == []


def test_connection_refused_is_transient(smtp_settings):
    settings = smtp_settings.model_copy(update={"smtp_port": free_port()})
    with pytest.raises(DeliveryError) as caught:
        load_adapter(settings, Channel.EMAIL).send(email())
    assert not caught.value.permanent and not caught.value.in_doubt


def test_a_server_that_goes_silent_after_data_leaves_the_message_in_doubt(
    smtp_settings, smtp_server
):
    smtp_server.sink.hang_after_data = 1.0
    settings = smtp_settings.model_copy(update={"smtp_timeout_seconds": 0.3})
    adapter = load_adapter(settings, Channel.EMAIL)
    with pytest.raises(DeliveryError) as caught:
        adapter.send(email())
    assert caught.value.in_doubt and not caught.value.permanent
    # SMTP offers no listing: in-doubt email cannot be reconciled and goes to review.
    assert adapter.find_sent(to="pat@example.test", since=None, body="", message_id=12) is None  # type: ignore[arg-type]


def test_starttls_required_but_not_offered_never_sends_in_clear(smtp_settings, smtp_server):
    settings = smtp_settings.model_copy(update={"smtp_starttls": True})
    with pytest.raises(DeliveryError) as caught:
        load_adapter(settings, Channel.EMAIL).send(email())
    assert not caught.value.permanent
    assert smtp_server.sink.received == []


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"clinic" and auth_data.password == b"s3cret"
    if ok:
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False, message="535 5.7.8 Bad credentials")


# aiosmtpd warns about its own legacy attribute on every successful login.
@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")
@pytest.mark.parametrize(("password", "delivered"), [("s3cret", True), ("wrong", False)])
def test_it_logs_in_when_credentials_are_configured(smtp_settings, password, delivered):
    sink, port = SmtpSink(), free_port()
    controller = Controller(
        sink, hostname="127.0.0.1", port=port, authenticator=_authenticator,
        auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    try:
        settings = smtp_settings.model_copy(
            update={
                "smtp_port": port,
                "smtp_username": "clinic",
                "smtp_password": SecretStr(password),
            }
        )
        adapter = load_adapter(settings, Channel.EMAIL)
        if delivered:
            adapter.send(email())
        else:
            with pytest.raises(DeliveryError) as caught:
                adapter.send(email())
            assert "login failed" in caught.value.reason and not caught.value.permanent
    finally:
        controller.stop()
    assert len(sink.received) == (1 if delivered else 0)


def test_the_list_unsubscribe_link_really_unsubscribes(
    smtp_settings, smtp_server, engine, factory, now
):
    clinic = factory.clinic()
    patient = factory.patient(clinic)
    session = factory.session
    pending = [
        queue_message(
            session,
            clinic_id=clinic.id,
            patient_id=patient.id,
            channel=channel,
            body="later",
            kind=MessageKind.PLAN,
            priority=Priority.ROUTINE,
            due_at=now + timedelta(days=3),
            dedupe_key=f"unsub:{channel}",
        )
        for channel in (Channel.EMAIL, Channel.SMS)
    ]
    session.commit()
    headers = list_unsubscribe_headers(
        public_base_url=smtp_settings.public_base_url,
        secret_key=smtp_settings.secret_key.get_secret_value(),
        patient_id=patient.id,
    )
    load_adapter(smtp_settings, Channel.EMAIL).send(email(headers=headers))

    [(_, received)] = smtp_server.sink.received
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(https://[^>]+)>", received["List-Unsubscribe"])
    assert link is not None and link.group(1).startswith(
        smtp_settings.public_base_url + "/unsubscribe/"
    )
    path = link.group(1).removeprefix(smtp_settings.public_base_url)
    with TestClient(create_app(smtp_settings, engine=engine)) as client:
        # What a mail client's one-click does (RFC 8058): POST with this exact body.
        response = client.post(
            path,
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200

    session.expire_all()
    assert session.get(type(patient), patient.id).email_opted_out_at is not None
    statuses = {m.channel: session.get(Message, m.id).status for m in pending}
    assert statuses == {
        Channel.EMAIL: MessageStatus.CANCELLED,
        Channel.SMS: MessageStatus.SCHEDULED,
    }
    audit = session.exec(
        select(AuditLog).where(AuditLog.action == "patient.email_unsubscribed")
    ).all()
    assert [a.entity_id for a in audit] == [patient.id]
