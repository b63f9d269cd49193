"""What the content linter knows about each language: how a sentence gives a route, the
words that promise a time of day, words a patient may not understand, and adjectives
that would give the patient a gender. Pure data plus the sentence splitter.

Text is compared folded (lower case, no accents: `service.plans.red_flags.fold`), the
way Spanish SMS reaches the phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.plans.red_flags import fold


@dataclass(frozen=True)
class LanguageRules:
    clinic_now: re.Pattern[str]  # "call us now": the clinic, at once
    tell_us: re.Pattern[str]  # "call us today", "tell us": the clinic, within the day
    tonight: re.Pattern[str]  # words that promise the evening of the procedure day
    day_or_night: str  # only for clinics that answer day and night
    jargon: re.Pattern[str] | None = None  # words an SMS must not use unexplained
    gendered: re.Pattern[str] | None = None  # adjectives that assume the reader's gender


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


RULES: dict[str, LanguageRules] = {
    "en": LanguageRules(
        clinic_now=_words(r"call us (?:now|straight away|right away|at once|immediately)"),
        tell_us=_words(r"call us", r"tell us", r"let us know", r"reply", r"contact us"),
        tonight=_words("tonight", "this evening"),
        day_or_night="day or night",
        # A word followed by "(" is explained in the same breath, which is allowed.
        jargon=re.compile(r"\b(?:dusky|mottled|blanching|occlusion|necrosis|ptosis)\b(?! ?\()"),
    ),
    "es": LanguageRules(
        clinic_now=_words(r"llamenos (?:ya|enseguida|de inmediato|ahora|cuanto antes)"),
        tell_us=_words(r"llamenos", r"avisenos", r"diganoslo", r"diganos", r"responda"),
        tonight=_words("esta noche", "esta tarde"),
        day_or_night="de dia o de noche",
        jargon=re.compile(r"\b(?:moteada|necrosis|oclusion|ptosis)\b(?! ?\()"),
        # Adjectives that only describe a person: the text must read the same for anyone.
        gendered=_words(
            r"erguid[oa]s?",
            r"content[oa]s?",
            r"tranquil[oa]s?",
            r"preocupad[oa]s?",
            r"cansad[oa]s?",
            r"mareado|mareada",
            r"sentad[oa]s?",
            r"acostad[oa]s?",
            r"tumbad[oa]s?",
            r"bienvenid[oa]s?",
            r"list[oa]s? para",
            r"satisfech[oa]s?",
            r"segur[oa] de que",
        ),
    ),
}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z¿¡(])|\n+")


@dataclass(frozen=True)
class Unit:
    """A sentence, or a bullet with the line that introduces it, as the linter reads it."""

    text: str  # folded
    heading: str  # folded introduction of a bullet ("" for a sentence)

    @property
    def whole(self) -> str:
        return f"{self.heading} {self.text}".strip()


def units(text: str) -> list[Unit]:
    """Split a rendered message into sentences; `- ` bullets keep their introducing line,
    because "Call 911 now if you have any of these:" gives the route of every bullet."""
    result: list[Unit] = []
    heading = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            heading = ""
            continue
        if stripped.startswith("- "):
            result.append(Unit(fold(stripped[2:]), heading))
            continue
        parts = [p for p in _SENTENCE_END.split(stripped) if p.strip()]
        result += [Unit(fold(part), "") for part in parts]
        heading = fold(stripped)
    return result


def mentions(pattern: re.Pattern[str], folded: str) -> bool:
    return pattern.search(folded) is not None
