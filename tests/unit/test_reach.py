"""What stops messages reaching a patient, in staff words; names folded for search."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from service.reach import reach_of
from service.words import fold, search_name

AT = datetime(2026, 3, 2, tzinfo=UTC)


def _patient(**overrides: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "phone": "+14155550100", "email": "a@example.test", "phone_can_sms": True,
        "sms_consent_at": AT, "email_consent_at": AT, "sms_opted_out_at": None,
        "email_opted_out_at": None, "sms_unreachable_at": None,
    }  # fmt: skip
    values.update(overrides)
    return SimpleNamespace(**values)


@pytest.mark.parametrize(
    ("overrides", "summary", "problem"),
    [
        ({}, "Texts and email", False),
        ({"email": None}, "Texts only: no email", False),
        ({"phone": None}, "Email only: no phone number", False),
        (
            {"sms_consent_at": None, "email": None},
            "Nothing can be sent: no SMS consent and no email",
            True,
        ),
        ({"sms_opted_out_at": AT}, "Email only: texted STOP", True),
        ({"phone_can_sms": False}, "Email only: the number is a landline", True),
        (
            {"sms_unreachable_at": AT, "phone_can_sms": False},
            "Email only: the number cannot take texts",
            True,
        ),
        ({"email_opted_out_at": AT}, "Texts only: unsubscribed from email", True),
        (
            {"email_consent_at": None, "phone": None},
            "Nothing can be sent: no phone number and no email consent",
            True,
        ),
    ],
)
def test_reach_names_what_blocks_each_channel(overrides, summary, problem) -> None:  # type: ignore[no-untyped-def]
    reach = reach_of(_patient(**overrides))
    assert reach.summary == summary
    assert reach.problem is problem


def test_names_fold_for_search() -> None:
    assert fold("  Núñez-GARCÍA  ") == "nunez-garcia"
    assert search_name("Zoë", "Ørsted Æbelø") == "zoe orsted aebelo"
    assert fold("Straße") == "strasse"
