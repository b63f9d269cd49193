"""Phone numbers as the patient dials them, and the clinic's checked details."""

from __future__ import annotations

import pytest

from service import accounts
from service.phones import display_phone


@pytest.mark.parametrize(
    ("number", "patient", "shown"),
    [
        ("+14155550100", "+14155550123", "(415) 555-0100"),  # same country: national
        ("+14155550100", None, "(415) 555-0100"),
        ("+14155550100", "+34612345678", "+1 415-555-0100"),  # abroad: international
        ("+34912345678", "+34612345678", "912 34 56 78"),
        ("911", "+14155550123", "911"),  # not E.164: unchanged
    ],
)
def test_it_shows_a_number_in_the_patients_own_format(number, patient, shown) -> None:
    assert display_phone(number, patient_phone=patient) == shown


def test_a_clinic_name_longer_than_every_sms_is_checked_for_is_refused(session) -> None:
    with pytest.raises(accounts.AccountError, match="name: at most 40 characters"):
        accounts.create_clinic(session, name="N" * 41, contact_phone="+14155550100")


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("phone", {"contact_phone": "call us"}),
        ("emergency_phone", {"contact_phone": "+14155550100", "emergency_phone": "call 911"}),
    ],
)
def test_a_clinic_with_a_bad_number_is_refused_naming_the_field(session, field, values) -> None:
    with pytest.raises(accounts.AccountError, match=f"^{field}:"):
        accounts.create_clinic(session, name="Lakeside", **values)


def test_a_clinic_number_is_stored_e164_and_the_24_hour_line_is_declared(session) -> None:
    clinic = accounts.create_clinic(
        session, name="Lakeside", contact_phone="(415) 555-0100", phone_24h=True
    )
    assert clinic.contact_phone == "+14155550100" and clinic.phone_24h is True


def test_the_patients_country_is_read_as_phonenumbers_reads_it() -> None:
    import random

    from service.phones import _country_code, _parse

    rng = random.Random(20)
    numbers = ["+14155550123", "+34612345678", "+1", "+12", "+123", "+0123", "+00", "+35512",
               "+1 415 555 0123", "+", "+١٢٣", "+1234567890123456789"]  # fmt: skip
    numbers += ["+" + "".join(rng.choices("0123456789", k=rng.randint(1, 17))) for _ in range(3000)]
    for number in numbers:
        parsed = _parse(number)
        assert _country_code(number) == (parsed.country_code if parsed else None), number
