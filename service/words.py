"""Words of a short reply, folded for keyword checks: lower case, no accents, no
punctuation or emoji, and the two-word keywords joined ("opt out" -> "optout"). Pure."""

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
