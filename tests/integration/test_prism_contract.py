"""The SMS adapter's requests validate against Twilio's own OpenAPI description (Prism),
and the same assertions hold against our fake, whose responses must match that
description too (convention 7: fakes kept honest by contract tests)."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from twilio.base import values
from twilio.base.exceptions import TwilioRestException

from service.channels.base import DeliveryError, OutboundMessage, load_adapter
from service.config import load_settings
from service.domain import Channel
from tests.integration.conftest import CONTRACT, SENDER, settings_for_twilio

MESSAGES = "/2010-04-01/Accounts/{AccountSid}/Messages.json"


@pytest.fixture(params=["fake", "prism"])
def provider_url(request) -> str:
    if request.param == "fake":
        return str(request.getfixturevalue("fake_twilio").url)
    return str(request.getfixturevalue("prism_url"))


@pytest.fixture
def adapter(settings, provider_url):
    return load_adapter(settings_for_twilio(settings, provider_url), Channel.SMS)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not CONTRACT.exists():
        pytest.skip(f"contract {CONTRACT} not found")
    return dict(json.loads(CONTRACT.read_text()))


def last_response(adapter) -> tuple[int, dict[str, Any]]:
    response = adapter.http._test_only_last_response  # the SDK keeps it for tests
    return response.status_code, json.loads(response.text or "{}")


def request_violations(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Prism's complaints about our request (its own example responses may be imperfect)."""
    return [v for v in body.get("validation", []) if v.get("location", [""])[0] != "response"]


def test_a_send_with_a_sender_number_is_a_valid_create_message_request(adapter):
    receipt = adapter.send(OutboundMessage(3, Channel.SMS, "+14155550123", "Day 1: rest"))
    status, body = last_response(adapter)
    assert status == 201 and request_violations(body) == []
    assert re.fullmatch(r"SM[0-9a-fA-F]{32}", receipt.provider_id)


def test_a_send_through_a_messaging_service_is_a_valid_request(settings, provider_url):
    adapter = load_adapter(
        settings_for_twilio(
            settings, provider_url, twilio_from=None, twilio_messaging_service_sid="MG" + "b" * 32
        ),
        Channel.SMS,
    )
    adapter.send(OutboundMessage(4, Channel.SMS, "+14155550123", "Week 2: tingling is normal"))
    status, body = last_response(adapter)
    assert status == 201 and request_violations(body) == []


def test_a_request_missing_the_recipient_is_rejected(adapter):
    # The negative control: proves the server really validates what it is sent.
    with pytest.raises(TwilioRestException) as caught:
        adapter.client.messages.create(to=values.unset, from_=SENDER, body="no recipient")
    assert caught.value.status in (400, 422)


def test_the_reconciliation_listing_is_a_valid_request(adapter):
    # Prism with --errors rejects its own example page; only our request matters here.
    with contextlib.suppress(DeliveryError):
        adapter.find_sent(to="+14155550123", since=datetime.now(UTC), body="x", message_id=1)
    status, body = last_response(adapter)
    assert status != 422 and request_violations(body) == []


def test_the_fakes_message_resource_matches_twilios_schema(fake_twilio, spec):
    adapter = load_adapter(settings_for_twilio(load_settings(), fake_twilio.url), Channel.SMS)
    adapter.send(OutboundMessage(6, Channel.SMS, "+14155550123", "Day 1: rest"))
    _, created = last_response(adapter)
    schema = spec["paths"][MESSAGES]["post"]["responses"]["201"]["content"]["application/json"]
    assert_matches(spec, schema["schema"], created)

    adapter.client.messages.list(to="+14155550123")
    _, page = last_response(adapter)
    listing = spec["paths"][MESSAGES]["get"]["responses"]["200"]["content"]["application/json"]
    assert_matches(spec, listing["schema"], page)


def assert_matches(
    spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "$"
) -> None:
    """A small OpenAPI 3.0 subset check: $ref, type, nullable, enum, pattern, properties."""
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if value is None:
        assert schema.get("nullable", False), f"{where} is null but not nullable"
        return
    kinds = {"string": str, "integer": int, "object": dict, "array": list, "boolean": bool}
    if "type" in schema:
        assert isinstance(value, kinds[schema["type"]]), (
            f"{where}: {value!r} is not {schema['type']}"
        )
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "pattern" in schema:
        assert re.search(schema["pattern"], value), f"{where}: {value!r} !~ {schema['pattern']}"
    if schema.get("type") == "object" and "properties" in schema:
        unknown = set(value) - set(schema["properties"])
        assert not unknown, f"{where}: fields not in Twilio's schema: {sorted(unknown)}"
        for name, sub in schema["properties"].items():
            if name in value:
                assert_matches(spec, sub, value[name], f"{where}.{name}")
    if schema.get("type") == "array" and "items" in schema:
        for index, item in enumerate(value):
            assert_matches(spec, schema["items"], item, f"{where}[{index}]")
