"""Words of a short reply, folded for keyword checks: lower case, no accents, no
punctuation or emoji, and the two-word keywords joined ("opt out" -> "optout"); and
names folded for search ("Núñez" and "nunez" meet). Pure."""

from __future__ import annotations

import re
import unicodedata

_PHRASES = (
    (re.compile(r"\bopt\s+out\b"), "optout"),
    (re.compile(r"\bopt\s+in\b"), "optin"),
    (re.compile(r"\bno\s+mas\b"), "nomas"),
    (re.compile(r"\bun\s+subscribe\b"), "unsubscribe"),
    (re.compile(r"\bstop\s+all\b"), "stopall"),
)


def tokens(text: str) -> list[str]:
    """Lower-case words without accents, punctuation or emoji ("¡PARAR!" -> ["parar"])."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    plain = re.sub(r"[^a-z0-9]+", " ", plain)
    for pattern, replacement in _PHRASES:
        plain = pattern.sub(replacement, plain)
    return plain.split()


# Letters that carry no combining mark to strip, written as a reader would type them.
_PLAIN_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d",
                                "þ": "th", "\u0131": "i", "ħ": "h"})  # fmt: skip


def fold(text: str) -> str:
    """Text as search compares it: case folded, accents and marks dropped, spaces
    collapsed ("  Núñez-García " -> "nunez-garcia")."""
    folded = unicodedata.normalize("NFKD", text.casefold()).translate(_PLAIN_LETTERS)
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(plain.split())


def search_name(first_name: str, last_name: str) -> str:
    """A patient's name as stored for search (`patients.search_name`)."""
    return fold(f"{first_name} {last_name}")[:SEARCH_NAME_MAX]


SEARCH_NAME_MAX = 210  # first (100) and last (100) names, and the space between
