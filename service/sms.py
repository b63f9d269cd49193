"""SMS length maths and clean-up. Pure: no I/O.

A GSM-7 message carries 160 characters in one segment, 153 per segment once split
(the rest is the concatenation header); characters from the extension table take two
septets. Any character outside GSM-7 switches the whole message to UCS-2: 70 code
units in one segment, 67 per segment when split, counted in UTF-16 (an emoji is 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SINGLE = {"GSM-7": 160, "UCS-2": 70}
MULTI = {"GSM-7": 153, "UCS-2": 67}

# Characters that sneak in from word processors and would force UCS-2 for no reason.
_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2012": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2007": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u200b": "",
    "\u2060": "",
    "\ufeff": "",
    "\u2022": "-",
    "\u00b7": "-",
    # Spanish acute vowels are not in GSM-7 (é, ñ, ü, ¿ and ¡ are): one "á" would make the
    # whole text UCS-2 and double its segments. Dropping the accent is how Spanish SMS is
    # customarily written, and it keeps each text within two segments.
    "á": "a",
    "í": "i",
    "ó": "o",
    "ú": "u",
    "Á": "A",
    "Í": "I",
    "Ó": "O",
    "Ú": "U",
}
_TABLE = str.maketrans(_REPLACEMENTS)


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2


_GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION
_SPACES = re.compile(r"[ \t]+")
_BLANK_RUNS = re.compile(r"\n{3,}")


def is_gsm7(char: str) -> bool:
    return char in GSM7_BASIC or char in GSM7_EXTENSION


def non_gsm7_chars(text: str) -> list[str]:
    """The distinct characters that force UCS-2, in order of appearance."""
    return list(dict.fromkeys(ch for ch in text if not is_gsm7(ch)))


def count_segments(text: str) -> SegmentInfo:
    """How many SMS segments `text` costs, and in which encoding."""
    distinct = set(text)  # set operations: this runs for every message sent
    if distinct <= _GSM7_ALL:
        extended = distinct & GSM7_EXTENSION
        units = len(text) + sum(text.count(ch) for ch in extended)
        return SegmentInfo("GSM-7", _segments(units, "GSM-7"), units)
    units = len(text.encode("utf-16-le")) // 2
    return SegmentInfo("UCS-2", _segments(units, "UCS-2"), units)


def _segments(units: int, encoding: Literal["GSM-7", "UCS-2"]) -> int:
    if units == 0:
        return 0
    if units <= SINGLE[encoding]:
        return 1
    return -(-units // MULTI[encoding])


def normalise_sms(text: str) -> str:
    """Plain SMS text: typographic quotes, dashes and odd spaces become GSM-7 ones,
    trailing spaces go, and runs of blank lines left by template logic collapse."""
    text = text.translate(_TABLE)
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    joined = "\n".join(lines)
    return _BLANK_RUNS.sub("\n\n", joined).strip()
