"""Reasons and titles in words a nurse reads: no UTC stamps, enum names or step keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from service.config import DEFAULT_TEMPLATES_DIR
from service.dispatch.reconcile import ABANDONED_REASON, REVIEW_REASON
from service.enrollment.schedule import TOO_LATE
from service.plans.catalog import load_catalog
from service.web.timeline_text import day_label, message_title, plain_reason

# Every reason the use cases record (see the grep in the module docstring's source).
STORED_REASONS = [
    f"{TOO_LATE}: its validity ended before it was planned (due 2026-03-02 15:00Z, valid "
    "until 2026-03-03 15:00Z)",
    f"{TOO_LATE}: its validity ends before quiet hours do",
    f"{TOO_LATE}: its advice is only true until 4h after the procedure",
    "sms not sent: step condition has_email: the patient has no email address",
    "email not sent: step condition has_email: the patient has no email address",
    "sms not sent: the patient opted out of SMS",
    "email not sent: no email consent",
    "sms unavailable (no SMS consent): sent by email instead",
    "moved 2 day(s) later: daily cap of 3 sms messages reached",
    "paused: fell due while the enrolment was paused since 2026-03-02 15:00Z",
    "enrolment paused",
    "enrolment paused; validity ends before then",
    "held: patient has an open alert",
    "held: patient has an open alert; validity ends before then",
    "quiet hours: moved to the end of the window",
    "validity window passed before it could be sent",
    "enrolment cancelled",
    "patient opted out of SMS",
    "patient unsubscribed from email",
    "no SMS consent recorded",
    "no email consent recorded",
    "patient's number cannot receive SMS",
    "texts stopped: patient replied STOP",
    "rescheduled: no longer planned for this patient",
    "rescheduled: moved 1 day(s) later: daily cap of 3 sms messages reached",
    "retry: provider timeout",
    "auto-reply help to inbound 12",
    "email fallback for message 44",
    "catch-up after late enrolment: 3 stale step(s) skipped",
    "queued staff_reply",
    "delivered: written to the console",
    "reconciled: the provider has it",
    "released: claim expired before send",
    ABANDONED_REASON,
    REVIEW_REASON,
    "staff reply",
]


@pytest.mark.parametrize("reason", STORED_REASONS)
def test_every_stored_reason_reads_as_plain_words(reason: str) -> None:
    text = plain_reason(reason, "America/New_York")
    assert text and text[0].isupper()
    assert not re.search(r"\d{2}:\d{2}Z", text), text
    assert "_" not in text, text
    assert not re.search(r"\bsms\b", text), text  # "text", not the channel's key


def test_utc_stamps_become_the_clinics_wall_clock() -> None:
    text = plain_reason(STORED_REASONS[0], "Europe/Madrid")
    assert "due 2026-03-02 16:00 CET, useful until 2026-03-03 16:00 CET" in text


def test_an_unknown_reason_is_kept_with_its_first_letter_capitalised() -> None:
    assert plain_reason("carrier said no", "UTC") == "Carrier said no"
    assert plain_reason(None, "UTC") == ""


def test_a_plan_step_has_its_day_and_the_plans_title_not_its_key() -> None:
    plan = load_catalog(DEFAULT_TEMPLATES_DIR).get("botox")
    procedure = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    due = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
    day = day_label(due, procedure, "America/New_York")
    title = message_title(
        kind="plan",
        step_key="day1_care",
        occurrence=0,
        channel="sms",
        plan=plan,
        day=day,
        context=None,
    )
    assert title == "Day 1: Care, and the signs to report today"
    reminder = message_title(
        kind="plan",
        step_key="red_flag_reminder",
        occurrence=1,
        channel="sms",
        plan=plan,
        day="Day 9",
        context=None,
    )
    assert reminder.startswith("Day 9: Warning-sign reminder") and "(2nd of " in reminder


def test_other_kinds_say_what_they_are() -> None:
    auto = message_title(
        kind="auto_reply",
        step_key=None,
        occurrence=0,
        channel="sms",
        plan=None,
        day=None,
        context={"compliance": "stop_confirmation"},
    )
    assert auto == "Automatic reply: texts stopped (STOP confirmed)"
    fallback = message_title(
        kind="fallback",
        step_key="day1_care",
        occurrence=0,
        channel="email",
        plan=None,
        day="Day 1",
        context=None,
    )
    assert fallback == "Day 1: Care (by email instead)"  # its plan not at hand: the key in words


def test_the_procedure_day_and_the_days_after_are_counted_on_the_local_calendar() -> None:
    procedure = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 18:00 in New York
    assert day_label(procedure, procedure, "America/New_York") == "Procedure day"
    next_morning = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
    assert day_label(next_morning, procedure, "America/New_York") == "Day 1"
