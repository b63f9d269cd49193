"""The adapter interface: registry, console adapter, error kinds, email building."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from service.channels import console
from service.channels.base import ADAPTERS, DeliveryError, OutboundMessage, Receipt, load_adapter
from service.channels.smtp_email import SmtpEmailAdapter, _reply_error
from service.domain import Channel


@pytest.fixture(autouse=True)
def _empty_console():
    console.clear_sent()
    yield
    console.clear_sent()


def test_the_embedded_default_uses_the_console_for_both_channels(settings):
    for channel in Channel:
        assert isinstance(load_adapter(settings, channel), console.ConsoleAdapter)


def test_the_registry_is_explicit_and_every_entry_resolves():
    assert ADAPTERS[(Channel.SMS, "twilio")] == "service.channels.twilio_sms:TwilioSmsAdapter"
    for dotted in ADAPTERS.values():
        module, _, name = dotted.partition(":")
        assert getattr(__import__(module, fromlist=[name]), name)


def test_the_twilio_sdk_is_only_imported_when_twilio_is_chosen(settings, monkeypatch):
    monkeypatch.delitem(sys.modules, "service.channels.twilio_sms", raising=False)
    load_adapter(settings, Channel.SMS)
    assert "service.channels.twilio_sms" not in sys.modules


def test_an_unknown_provider_is_a_clear_error(settings):
    odd = settings.model_copy(update={"sms_provider": "carrier-pigeon"})
    with pytest.raises(ValueError, match="no sms adapter named 'carrier-pigeon'"):
        load_adapter(odd, Channel.SMS)


def test_the_console_adapter_records_and_logs_without_the_body(settings, caplog):
    adapter = load_adapter(settings, Channel.SMS)
    message = OutboundMessage(9, Channel.SMS, "+14155550123", "Secret aftercare text")
    with caplog.at_level(logging.INFO, logger="service.channels.console"):
        receipt = adapter.send(message)
    assert receipt.provider == "console" and receipt.provider_id.startswith("console-")
    assert console.sent_messages() == [(message, receipt)]
    assert "action=console.send message_id=9 channel=sms" in caplog.text
    assert "Secret aftercare text" not in caplog.text and "4155550123" not in caplog.text


def test_the_console_adapter_logs_the_body_only_at_debug(settings, caplog):
    with caplog.at_level(logging.DEBUG, logger="service.channels.console"):
        load_adapter(settings, Channel.SMS).send(
            OutboundMessage(3, Channel.SMS, "+1415", "hi there")
        )
    debug = [r for r in caplog.records if "hi there" in r.getMessage()]
    assert debug and all(r.levelno == logging.DEBUG for r in debug)


def test_the_console_adapter_reconciles_what_it_recorded(settings):
    adapter = load_adapter(settings, Channel.EMAIL)
    receipt = adapter.send(OutboundMessage(4, Channel.EMAIL, "a@example.test", "x"))
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert adapter.find_sent(to="a@example.test", since=since, body="x", message_id=4) == receipt
    assert adapter.find_sent(to="a@example.test", since=since, body="x", message_id=5) is None


def test_a_delivery_error_says_which_kind_it_is():
    error = DeliveryError("busy", permanent=False, retry_after=3.0, provider_code="20429")
    assert (error.permanent, error.in_doubt, error.retry_after) == (False, False, 3.0)
    assert str(error) == "busy" and error.reason == "busy"
    assert not error.opted_out and not error.not_mobile
    assert DeliveryError("x", permanent=True, opted_out=True).opted_out


def test_outbound_messages_and_receipts_are_values():
    assert Receipt("twilio", "SM1") == Receipt("twilio", "SM1")
    message = OutboundMessage(1, Channel.SMS, "+1", "b")
    assert message.headers == {} and message.subject is None
    with pytest.raises(AttributeError):
        message.body = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("code", "permanent"), [(421, False), (450, False), (452, False), (550, True), (554, True)]
)
def test_smtp_reply_codes_decide_permanence(code, permanent):
    error = _reply_error(code, b"4.0.0 text")
    assert error.permanent is permanent and error.provider_code == str(code)
    assert not error.in_doubt


def _smtp(settings):
    return SmtpEmailAdapter(
        settings=settings.model_copy(
            update={
                "email_provider": "smtp",
                "smtp_host": "mail.test",
                "smtp_password": SecretStr("x"),
            }
        )
    )


def test_an_email_carries_both_parts_and_the_unsubscribe_headers(settings):
    headers = {"List-Unsubscribe": "<https://a.example/unsubscribe/t>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}  # fmt: skip
    message = OutboundMessage(
        8, Channel.EMAIL, "pat@example.test", "plain", subject="Day 2", html="<p>html</p>",
        from_="Clinic <care@clinic.example>", headers=headers,
    )  # fmt: skip
    built = _smtp(settings).build(message)
    assert built["From"] == "Clinic <care@clinic.example>"
    assert built["List-Unsubscribe"] == "<https://a.example/unsubscribe/t>"
    assert built["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert built["Message-ID"].startswith("<ac8.") and built["Message-ID"].endswith(
        "@clinic.example>"
    )
    assert [part.get_content_type() for part in built.iter_parts()] == ["text/plain", "text/html"]


def test_a_long_sender_domain_still_gives_a_message_id_that_fits_the_provider_id(settings):
    sender = "care@" + "very-long-subdomain." * 4 + "example"
    built = _smtp(settings).build(
        OutboundMessage(123456789, Channel.EMAIL, "p@x.test", "b", from_=sender)
    )
    assert len(built["Message-ID"].strip("<>")) <= 64
