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


def test_dates_times_and_addresses_are_not_mistaken_for_phone_numbers():
    text = "next run at 2026-11-22 04:28:34 UTC from 127.0.0.1:38438 id=12345"
    assert scrub(text) == text


def test_formatted_and_e164_numbers_are_masked():
    assert "555" not in scrub("call (415) 555-0123 or 415.555.0123 or +442071234567")


def test_access_logs_lose_their_query_string():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/app/patients?q=Ana", "1.1", 200),
        None,
    )
    PrivacyFilter().filter(record)
    assert "Ana" not in record.getMessage()
    assert "/app/patients" in record.getMessage()


def test_url_encoded_numbers_and_emails_are_masked():
    text = scrub("GET /Messages.json?To=%2B14155550123&PageSize=50 to=zelda.q%40lakeside.com")
    assert "4155550123" not in text
    assert "zelda.q" not in text
    assert "PageSize=50" in text


def test_library_loggers_only_warn_at_info():
    from service.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO")
        assert not logging.getLogger("twilio.http_client").isEnabledFor(logging.INFO)
        assert logging.getLogger("twilio.http_client").isEnabledFor(logging.WARNING)
        assert logging.getLogger("service.dispatch").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
