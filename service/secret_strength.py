"""Is a secret strong enough for production? (pure: standard library only)

A secret is refused when it is missing, shorter than 32 bytes, one of the values the
repository itself shows (docker-compose.yml, README, examples and tests are public), a
placeholder ("change-me"), or of low entropy: fewer than 80 bits estimated from its
character frequencies, a repeating pattern, or a run like `abcdef` / `654321`.
`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'` always passes, and so
does a Twilio auth token (32 hex digits).
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise

MIN_BYTES = 32
MIN_BITS = 80.0
# Ascending or descending characters in a row: abcde is allowed, abcdef not, and in a long
# value up to a quarter of its length (a random 32-hex-digit Twilio token held a run of 6 in
# 21 of 1,000,000 drawn: "...8765430..." is chance, not a pattern).
LONGEST_RUN = 5
GENERATE = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"

# Values published in this repository or its documentation: known to everyone.
KNOWN_VALUES = frozenset(
    {
        "dev-only-secret-change-me",
        "change-me-in-production",
        "change-me",
        "changeme",
        "secret",
        "test-secret-key-0123456789",
        "browser-test-secret-key-0123456789",
        "load-test-secret-key-0123456789abcdef",
        "inbound-secret-0123456789",
    }
)
# Words no generated secret contains (case-insensitive), but every placeholder does.
_PLACEHOLDERS = (
    "change",
    "secret",
    "password",
    "passw0rd",
    "example",
    "default",
    "replace",
    "qwerty",
    "letmein",
    "insecure",
    "placeholder",
)


def weakness(value: str | None) -> str | None:
    """Why `value` is not a production secret, or None when it is strong enough."""
    if not value:
        return "missing"
    size = len(value.encode())
    if size < MIN_BYTES:
        return f"too short ({size} bytes; at least {MIN_BYTES})"
    if value in KNOWN_VALUES or value.strip().lower() in KNOWN_VALUES:
        return "a value published in the repository or its documentation"
    folded = value.lower()
    for word in _PLACEHOLDERS:
        if word in folded:
            return f"a placeholder (contains {word!r})"
    if _repeats(value):
        return "low entropy (a repeating pattern)"
    if _longest_run(value) > max(LONGEST_RUN, len(value) // 4):
        return "low entropy (a run of consecutive characters)"
    bits = estimated_bits(value)
    if bits < MIN_BITS:
        return f"low entropy (about {bits:.0f} bits; at least {MIN_BITS:.0f})"
    return None


def estimated_bits(value: str) -> float:
    """Length times the Shannon entropy of the value's own character frequencies."""
    counts = Counter(value)
    n = len(value)
    return -n * sum(c / n * math.log2(c / n) for c in counts.values())


def _repeats(value: str) -> bool:
    """The value is a shorter string repeated (`abcabcabc...`)."""
    n = len(value)
    return any(value == (value[:p] * (n // p + 1))[:n] for p in range(1, n // 2 + 1))


def _longest_run(value: str) -> int:
    longest = run = 1
    step = 0
    for a, b in pairwise(value):
        diff = ord(b) - ord(a)
        if diff in (1, -1) and diff == step:
            run += 1
        elif diff in (1, -1):
            run, step = 2, diff
        else:
            run, step = 1, 0
        longest = max(longest, run)
    return longest
