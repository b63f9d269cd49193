"""Carrier keywords (STOP/START/HELP and Spanish equivalents), check-in answers and
the procedure/day hints a reply itself gives."""

from __future__ import annotations

from service.triage.lexicon import Lexicon
from service.triage.patterns import Hit
from service.triage.text import BOUNDARY, COMMA

_INTENTS = ("stop", "start", "help")
MAX_KEYWORD_WORDS = 6  # "ok stop texting me now please" still counts; a story does not
_DAYS_PER = {"day": 1, "week": 7, "month": 30, "year": 365}
# "dos semanas", "three weeks": counts in words
_NUMBER_WORDS = {
    **dict.fromkeys(("two", "dos"), 2),
    **dict.fromkeys(("three", "tres"), 3),
    **dict.fromkeys(("four", "cuatro"), 4),
    **dict.fromkeys(("five", "cinco"), 5),
    **dict.fromkeys(("six", "seis"), 6),
}
_FEW = frozenset({"few", "several", "couple", "unos", "unas", "varios", "varias"})
_BARE_UNIT_DAYS = {"week": 14, "month": 60, "year": 365}  # "for months", "weeks later"


def words_of(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t not in (BOUNDARY, COMMA)]


def detect_intent(
    tokens: list[str], hits: list[Hit], lexicon: Lexicon, words: list[str] | None = None
) -> str | None:
    """stop / start / help when the reply is a keyword (plus filler) or holds a clear
    phrase; a first sentence that is a lone STOP ("STOP. I've moved clinics") opts out.
    words: the reply's words (words_of(tokens)) when the caller has them."""
    phrases = [h for h in hits if h.payload[0] in _INTENTS]
    kept = _outermost_intents(phrases) if phrases else []
    kinds = {h.payload[0] for h in kept}
    if {"stop", "start"} <= kinds:
        # "I unsubscribed last week but I'd like the texts back": the later wish counts
        last = max((h for h in kept if h.payload[0] in ("stop", "start")), key=_start)
        kinds.discard("start" if last.payload[0] == "stop" else "stop")
    phrase = next((k for k in _INTENTS if k in kinds), None)
    if phrase is not None:
        return phrase
    intent = _lone_keyword(words_of(tokens) if words is None else words, lexicon)
    if intent is None and BOUNDARY in tokens:
        first = _lone_keyword(words_of(tokens[: tokens.index(BOUNDARY)]), lexicon)
        intent = first if first == "stop" else None
    return intent


def _start(hit: Hit) -> int:
    return hit.start


def _outermost_intents(phrases: list[Hit]) -> list[Hit]:
    """Intent phrases not framed by a phrase of another intent that starts earlier or
    holds them: "how do I turn off these messages" is help, "I unsubscribed by
    mistake" is start."""
    return [
        h
        for h in phrases
        if not any(
            o.payload[0] != h.payload[0]
            and h.start < o.end
            and o.start < h.end
            and (o.start < h.start or (o.start == h.start and o.end > h.end))
            for o in phrases
        )
    ]


def _lone_keyword(words: list[str], lexicon: Lexicon) -> str | None:
    if not words or len(words) > MAX_KEYWORD_WORDS:
        return None
    found: list[str] = []
    for word in words:
        word = lexicon.typos.keyword(word, lexicon.keyword_words)
        kind = next((k for k in ("stop", "start", "help") if word in lexicon.keywords[k]), None)
        if kind:
            found.append(kind)
        elif word not in lexicon.keywords["filler"]:
            return None
    for intent in ("stop", "start", "help"):  # opting out wins over anything else
        if intent in found:
            return intent
    return None


def detect_checkin(tokens: list[str], lexicon: Lexicon) -> int | None:
    """1, 2 or 3 when the reply answers the structured check-in ("2", "3.", "1 all good")."""
    words = [t for t in tokens if t != BOUNDARY]
    if not words or words[0] not in ("1", "2", "3"):
        if len(words) > 1 and words[0] in ("option", "opcion") and words[1] in ("1", "2", "3"):
            words = words[1:]
        else:
            return None
    following = words[1] if len(words) > 1 else None
    if following is not None and (following.isdigit() or following in lexicon.checkin_not_after):
        return None
    return int(words[0])


def infer_procedure(hits: list[Hit]) -> str | None:
    """The procedure the reply names ("my lip filler"), used when the caller gives none."""
    return next((h.payload[1] for h in hits if h.payload[0] == "procedure"), None)


def infer_day(tokens: list[str], lexicon: Lexicon) -> int | None:
    """Days the reply mentions ("6 months later", "for weeks"), the longest one."""
    best: int | None = None
    units = lexicon.duration_units
    for index, token in enumerate(tokens):
        unit = units.get(token)
        if unit is None or len(token) == 1:
            continue
        previous = tokens[index - 1] if index else ""
        if previous.isdigit():
            days = int(previous) * _DAYS_PER[unit]
        elif previous in _NUMBER_WORDS:
            days = _NUMBER_WORDS[previous] * _DAYS_PER[unit]
        elif previous in ("a", "one", "un", "una"):
            days = _DAYS_PER[unit]
        elif previous in _FEW:
            days = 3 * _DAYS_PER[unit] + 1  # "more than a few days": past the first three
        else:
            days = _BARE_UNIT_DAYS.get(unit, 0)
        best = days if best is None else max(best, days)
    return best
