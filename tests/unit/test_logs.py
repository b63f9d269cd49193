"""No phone numbers or email addresses reach INFO logs."""

from __future__ import annotations

import logging

from service.logs import PrivacyFilter, kv, mask_email, mask_phone, scrub


def test_it_masks_phone_numbers_to_their_last_two_digits():
    assert mask_phone("+14155550123") == "+***23"
    assert mask_phone(None) == "-"


def test_it_masks_email_addresses_keeping_the_domain():
    assert mask_email("jane.doe@example.com") == "j***@example.com"


def test_scrub_removes_numbers_and_emails_from_free_text():
    text = scrub("sent to +1 (415) 555-0123 and jane@example.com")
    assert "555" not in text
    assert "jane@" not in text


def test_the_filter_scrubs_info_records_but_keeps_ids():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "%s", (kv("sent", message_id=42, to="+14155550123"),), None
    )
    PrivacyFilter().filter(record)
    assert "message_id=42" in record.getMessage()
    assert "4155550123" not in record.getMessage()
