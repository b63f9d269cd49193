"""SMS segment counting: GSM-7 (with its extension table) versus UCS-2."""

from __future__ import annotations

import pytest

from service.sms import count_segments, non_gsm7_chars, normalise_sms

CASES = [
    # text, encoding, segments, units
    ("", "GSM-7", 0, 0),
    ("a", "GSM-7", 1, 1),
    ("a" * 160, "GSM-7", 1, 160),
    ("a" * 161, "GSM-7", 2, 161),
    ("a" * 306, "GSM-7", 2, 306),
    ("a" * 307, "GSM-7", 3, 307),
    ("€" * 80, "GSM-7", 1, 160),  # extension characters cost two septets
    ("€" * 81, "GSM-7", 2, 162),
    ("[]{}|^~\\", "GSM-7", 1, 16),
    ("¿Qué tal? ¡Bien! ñ é ü à", "GSM-7", 1, 24),  # in the GSM-7 basic table
    ("á", "UCS-2", 1, 1),  # not in GSM-7: the whole message becomes UCS-2
    ("á" * 70, "UCS-2", 1, 70),
    ("á" * 71, "UCS-2", 2, 71),
    ("á" * 134, "UCS-2", 2, 134),
    ("á" * 135, "UCS-2", 3, 135),
    ("\U0001f600" * 35, "UCS-2", 1, 70),  # an emoji is two UTF-16 code units
    ("\U0001f600" * 36, "UCS-2", 2, 72),
    ("a" * 159 + "\u2019", "UCS-2", 3, 160),  # one curly quote triples the cost
]


@pytest.mark.parametrize(("text", "encoding", "segments", "units"), CASES)
def test_count_segments(text: str, encoding: str, segments: int, units: int) -> None:
    info = count_segments(text)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("it\u2019s \u201cfine\u201d", 'it\'s "fine"'),
        ("call\u00a0us \u2013 now\u2026", "call us - now..."),
        ("a\u200bb", "ab"),
        ("  one  \n\n\n\n two \n", "one\n\ntwo"),
    ],
)
def test_normalise_sms_turns_typography_into_gsm7(raw: str, clean: str) -> None:
    assert normalise_sms(raw) == clean
    assert count_segments(normalise_sms(raw)).encoding == "GSM-7"


def test_non_gsm7_chars_lists_each_offender_once() -> None:
    assert non_gsm7_chars("Día í á í ok") == ["í", "á"]


def test_spanish_acute_vowels_fold_so_a_text_stays_gsm7():
    text = normalise_sms("Está bien, sí: más información. Niño, ¿qué tal?")
    assert text == "Esta bien, si: mas informacion. Niño, ¿qué tal?"
    assert count_segments(text).encoding == "GSM-7"
