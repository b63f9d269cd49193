"""Phone numbers as a patient reads and dials them. Pure.

Numbers are stored E.164 (`+14155550100`); a message shows the clinic's number in the
patient's national format when both are in the same country (`(415) 555-0100`), and in
international format otherwise (`+1 415-555-0100`), which dials from any mobile.
"""

from __future__ import annotations

import phonenumbers

# The longest number the service shows a patient: the longest international format of a
# valid number is 20 characters (`+91 1861 123 456 789`). Clinics are refused a longer
# one, and the linter renders every SMS with a number this long.
PHONE_DISPLAY_MAX = 20


def _parse(number: str) -> phonenumbers.PhoneNumber | None:
    if not number.startswith("+"):
        return None
    try:
        return phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None


def display_phone(number: str, *, patient_phone: str | None = None) -> str:
    """`number` formatted for a patient whose own number is `patient_phone`.

    Anything that is not an E.164 number (a short emergency number, a number already
    formatted by hand) is returned unchanged.
    """
    parsed = _parse(number)
    if parsed is None:
        return number
    patient = _parse(patient_phone) if patient_phone else None
    if patient is not None and patient.country_code != parsed.country_code:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def international(number: str) -> str:
    parsed = _parse(number)
    if parsed is None:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
