"""Pairs: two concepts in one clause, in either order and at any distance.

Ordered phrases with short gaps miss what people write ("sharp pain in the middle of
my chest", "se me cierra la garganta", "blood is running down my face and won't
stop"). A pair in terms.yaml names a class and two lists of patterns; when one of
each is found in the same segment (a clause cut at commas and "but"), the span
from the first to the last becomes a term of that class.
"""

from __future__ import annotations

from service.triage.patterns import Hit

PAIR_A, PAIR_B = "pair_a", "pair_b"
MARK = "pair"  # third payload field of a joined term: ("term", class, "pair")


def join(
    a_hits: list[Hit], b_hits: list[Hit], segment: list[int], classes: tuple[str, ...]
) -> list[Hit]:
    """One term per pair and segment where both sides occur, not overlapping."""
    joined: dict[tuple[int, int], Hit] = {}
    for a in a_hits:
        pair = int(a.payload[1])
        for b in b_hits:
            if b.payload[1] != a.payload[1] or segment[a.start] != segment[b.start]:
                continue
            if a.start < b.end and b.start < a.end:
                continue  # one word playing both parts
            start, end = min(a.start, b.start), max(a.end, b.end)
            key = (pair, segment[a.start])
            if key not in joined or end - start < joined[key].end - joined[key].start:
                joined[key] = Hit(start, end, ("term", classes[pair], MARK))
    return list(joined.values())
