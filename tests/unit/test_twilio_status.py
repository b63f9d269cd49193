"""Twilio's delivery vocabulary becomes ours, with reasons staff can read."""

from __future__ import annotations

import pytest

from service.channels.twilio_status import ERRORS, describe_error, from_callback, translate
from service.domain import MessageStatus


@pytest.mark.parametrize(
    ("twilio", "ours"),
    [
        ("accepted", None),
        ("scheduled", None),
        ("queued", None),
        ("sending", None),
        ("sent", MessageStatus.SENT),
        ("delivered", MessageStatus.DELIVERED),
        ("read", MessageStatus.DELIVERED),
        ("undelivered", MessageStatus.UNDELIVERED),
        ("failed", MessageStatus.FAILED),
        ("canceled", MessageStatus.CANCELLED),
        ("DELIVERED ", MessageStatus.DELIVERED),
        ("something-new", None),
    ],
)
def test_twilio_statuses_map_to_ours(twilio, ours):
    assert translate(twilio).status == ours


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("30001", "queue overflowed"),
        ("30003", "switched off or out of coverage"),
        ("30004", "blocked"),
        ("30005", "no longer exists"),
        ("30006", "landline"),
        ("30007", "spam filter"),
        ("30008", "unknown error"),
        ("30034", "not registered"),
        ("21610", "unsubscribed"),
        ("21211", "not valid"),
        ("21614", "not a mobile"),
        ("21408", "not enabled"),
        (20429, "rate limiting"),
    ],
)
def test_error_codes_become_readable_reasons(code, words):
    assert words in describe_error(code)


def test_unknown_and_missing_codes_are_still_described():
    assert describe_error("39999") == "Twilio error 39999"
    assert describe_error("abc") == "Twilio error abc"
    assert describe_error(None) == "no error reported"


def test_every_described_error_is_a_sentence_not_a_code():
    assert all(not text.startswith("Twilio error") for text in ERRORS.values())


def test_a_callback_with_a_carrier_error_keeps_the_code_and_explains_it():
    result = from_callback({"MessageStatus": "undelivered", "ErrorCode": "30007"})
    assert result.status == MessageStatus.UNDELIVERED
    assert result.error_code == "30007" and result.provider_status == "undelivered"
    assert "spam filter" in result.reason and "30007" in result.reason


def test_a_callback_without_an_error_code_has_none():
    result = from_callback({"SmsStatus": "delivered", "ErrorCode": ""})
    assert result.status == MessageStatus.DELIVERED and result.error_code is None
    assert result.reason == "Twilio: delivered"


@pytest.mark.parametrize(
    ("code", "unreachable"),
    [("30006", True), ("30005", True), ("30003", False), ("30007", False), (None, False)],
)
def test_only_a_landline_or_a_dead_number_means_texts_can_never_arrive(code, unreachable):
    assert translate("undelivered", code).unreachable is unreachable
