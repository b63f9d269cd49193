"""Phone numbers as a patient reads and dials them. Pure.

Numbers are stored E.164 (`+14155550100`); a message shows the clinic's number in the
patient's national format when both are in the same country (`(415) 555-0100`), and in
international format otherwise (`+1 415-555-0100`), which dials from any mobile.
"""

from __future__ import annotations

import functools

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
    return _shown(number, _country_code(patient_phone) if patient_phone else None)


# Every message shows its clinic's number (a handful per process) to a patient of one of
# a few countries: formatted once per pair, not parsed twice per message (parsing was a
# fifth of the dispatcher's own CPU).
@functools.lru_cache(maxsize=4096)
def _shown(number: str, patient_country: int | None) -> str:
    parsed = _parse(number)
    if parsed is None:
        return number
    if patient_country is not None and patient_country != parsed.country_code:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def _country_code(phone: str) -> int | None:
    """The country calling code of `phone` as `phonenumbers.parse` reads it (None where it
    fails). An E.164 number (`+` and 4-15 digits, what we store) is read directly:
    country codes are prefix-free, so the first 1-3 digits that name one are it."""
    digits = phone[1:]
    if not (phone.startswith("+") and digits.isascii() and digits.isdigit()) or not (
        4 <= len(digits) <= 15
    ):
        parsed = _parse(phone)
        return None if parsed is None else parsed.country_code
    if digits.startswith("0"):  # no country code starts with 0
        return None
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code if len(digits) - size >= 2 else None  # a national number too short
    return None


def international(number: str) -> str:
    parsed = _parse(number)
    if parsed is None:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
