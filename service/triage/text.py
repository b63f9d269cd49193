"""Reply text preparation: drop quoted email history, normalise, tokenise.

Tokens are lower-case ASCII words (accents and apostrophes removed, so "can't" is
"cant" and "difícil" is "dificil") plus boundary tokens that end a clause.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

BOUNDARY = "|"  # a clause boundary token (. ! ? ; new line)
COMMA = ","  # a weak boundary: ends negation and hypothetical scopes

_QUOTE_HEADER = re.compile(
    r"^\s*(on\b.{0,200}\bwrote:?|el\b.{0,200}\bescribi[oó]:?|-{2,}\s*original message\s*-{2,}|"
    r"_{8,}|from:\s.*|de:\s.*|sent from my \w+.*|enviado desde mi \w+.*)\s*$",
    re.IGNORECASE,
)
# "On Mon, 2 Mar 2026 at 10:00, Clinic <x@y> wrote:" is often wrapped over two lines.
_WROTE_TAIL = re.compile(r"^\s*.{0,120}\b(wrote|escribi[oó]):\s*$", re.IGNORECASE)
# "---- On Mon, Clinic wrote ----" and other clients' variants of the header line.
_WROTE_ANY = re.compile(r"^[\s\-_*]*(on|el)\b.{0,200}\b(wrote|escribi[oó])\b.{0,10}$", re.I)
# A decimal ("38.5", "38,5") is one token; digits and letters split ("39c" -> 39, c).
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+|[.!?;\n]+|,")
_APOSTROPHES = str.maketrans("", "", "'\u2019`\u00b4")  # apostrophe, right quote, backtick, acute
# A noun's "'s" (possessive or "is"), not a pronoun's ("it's", "that's" stay "its", "thats").
_POSSESSIVE = re.compile(
    r"\b(?!(?:it|that|there|what|he|she|who|let|here|where|how|one|everyone|nobody)['\u2019])"
    r"([a-z]{3,})['\u2019]s\b"
)
_SPANISH_YES = re.compile(r"(?<!\w)sí(?!\w)")
# "mucho mejor la hinchazon", "so much better the swelling": how much better, not how
# much swelling ("much" and "mejor" alone are not intensities).
_MUCH_BETTER = re.compile(r"\b(?:so much|a lot|lots|loads|heaps|way|super) better\b")
_MUCHO_MEJOR = re.compile(r"\b(?:mucho|muchisimo|bastante|muy|super) mejor\b")
# A reply that opens with "si" and asks nothing answers the clinic: "Si tengo la piel
# palida" is "sí" typed without its accent ("si tengo fiebre?" stays a question).
_OPENING_SI = re.compile(r"^\W*si\b(?!\s+(?:no|se)\b)")
# A message passed on ("---------- Forwarded message ---------", "Begin forwarded
# message:", "Fwd: ..."): a carer forwarding what the patient wrote.
_FORWARDED = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|mensaje reenviado)\s*-{2,}|begin forwarded message:?"
    r"|(?:fwd?|rv|reenviado)\s*:.*)\s*$",
    re.IGNORECASE | re.MULTILINE,
)


# Voice dictation writes punctuation as words ("it hurts period I flew back"); a scope
# must end there. "my period", "a short period" are periods.
_SPOKEN_STOP = re.compile(
    r"\b(?:new line|new paragraph|full stop|question mark|exclamation (?:mark|point)"
    r"|punto y (?:aparte|seguido)|nueva linea|(?<!my )(?<!her )(?<!the )(?<!a )(?<!first )"
    r"(?<!last )(?<!next )(?<!this )(?<!that )(?<!your )(?<!heavy )(?<!short )(?<!long )"
    r"(?<!recovery )(?<!healing )(?<!grace )(?<!waiting )period(?! pain| cramp))\b"
)
_SPOKEN_COMMA = re.compile(r"\bcomma\b")
# "un subscribe me", "un-subscribe": an opt-out split by dictation or a hyphen, never
# its opposite.
_SPLIT_UNSUBSCRIBE = re.compile(r"\bun[\s-]+(?=sub)")
# Dictated temperatures: "38 point 9", "one hundred one", "a hundred and two", "one oh
# one", "thirty nine", "treinta y ocho" (the measures read digits only).
_DIGITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
           "seis": 6, "siete": 7, "ocho": 8, "nueve": 9}  # fmt: skip
_DIGIT_WORDS = "|".join(_DIGITS)
_HUNDRED = re.compile(rf"\b(?:one|a) (?:hundred (?:and )?|oh )({_DIGIT_WORDS})\b")
_TENS = {"thirty": 30, "forty": 40, "treinta y": 30, "cuarenta y": 40}
_TENS_NUMBER = re.compile(rf"\b(thirty|forty|treinta y|cuarenta y)[ -]({_DIGIT_WORDS})\b")
_SPOKEN_POINT = re.compile(rf"(\d+) (?:point|punto|coma) (\d|{_DIGIT_WORDS})\b")


def _has_spoken_mark(text: str) -> bool:
    # A chain of `in` tests: a few times cheaper than one regex search (every reply).
    return (
        "period" in text
        or "comma" in text
        or "new line" in text
        or "new paragraph" in text
        or "full stop" in text
        or "question mark" in text
        or "exclamation" in text
        or "punto y" in text
        or "nueva linea" in text
    )


def undictate(text: str) -> str:
    """Spoken punctuation and temperatures of a dictated reply written as a typed one."""
    if "sub" in text:
        text = _SPLIT_UNSUBSCRIBE.sub("un", text)
    if _has_spoken_mark(text):
        text = _SPOKEN_COMMA.sub(",", _SPOKEN_STOP.sub(".", text))
    if "hundred" in text or " oh " in text:
        text = _HUNDRED.sub(lambda m: str(100 + _DIGITS[m.group(1)]), text)
    if "thirty" in text or "forty" in text or "ta y" in text:
        text = _TENS_NUMBER.sub(lambda m: str(_TENS[m.group(1)] + _DIGITS[m.group(2)]), text)
    if "point" in text or "punto" in text or "coma" in text:
        text = _SPOKEN_POINT.sub(
            lambda m: f"{m.group(1)}.{_DIGITS.get(m.group(2), m.group(2))}", text
        )
    return text


def forwarded(text: str) -> str | None:
    """The whole text without quote marks when it passes on a forwarded message, whose
    every line (headers, "> " lines) is someone's report to read; None otherwise."""
    if not _FORWARDED.search(text):
        return None
    return "\n".join(line.strip().lstrip(">").strip() for line in text.splitlines())


def strip_quoted(text: str) -> str:
    """The reply without quoted history: lines from the first quote header, and "> " lines.

    The inbound caller strips history with a reply parser; this is the defensive
    second line so the clinic's own words ("fever", "STOP") are never triaged.
    """
    if "\n" not in text and not text.lstrip().startswith(">"):
        return text  # a one-line SMS has no quoted history
    passed_on = forwarded(text)
    if passed_on is not None:
        return passed_on
    kept: list[str] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            continue
        if _QUOTE_HEADER.match(line) or _WROTE_ANY.match(line):
            break
        if _starts_wrapped_header(line, lines, index):
            break
        kept.append(line)
    return "\n".join(kept)


def _starts_wrapped_header(line: str, lines: list[str], index: int) -> bool:
    if not re.match(r"^\s*(on|el)\s", line, re.IGNORECASE) or index + 1 >= len(lines):
        return False
    return bool(_WROTE_TAIL.match(lines[index + 1]))


def normalise(text: str, emoji: Mapping[str, str]) -> str:
    """Lower case, emoji as words, accents and apostrophes removed."""
    text = text.lower()
    if "'" in text or "\u2019" in text:  # "breathing's gone funny" -> "breathing gone funny"
        text = _POSSESSIVE.sub(r"\1", text)
    text = text.translate(_APOSTROPHES).replace("&", " and ").replace("-ish", "ish")
    if not text.isascii():
        for symbol, word in emoji.items():
            if symbol in text:
                text = text.replace(symbol, f" {word} ")
        text = _SPANISH_YES.sub("yes", text)  # "sí" is yes; "si" (no accent) means "if"
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    if "si" in text[:8] and "?" not in text:
        text = _OPENING_SI.sub("yes", text, count=1)
    if "better" in text:
        text = _MUCH_BETTER.sub("much better", text)
    if "mejor" in text:
        text = _MUCHO_MEJOR.sub("mejor", text)
    return undictate(text)


def tokenise(text: str) -> list[str]:
    """Words and boundary tokens; runs of sentence punctuation become one boundary."""
    return [tok if tok[0].isalnum() or tok == COMMA else BOUNDARY for tok in _TOKEN.findall(text)]
