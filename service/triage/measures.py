"""Numbers in replies that carry a symptom: temperatures and pain scores.

A temperature becomes the token "fever(38.9)" (matched by the fever terms, `fever*`),
"lowtemp(37.8)" (a low-grade reading: the reply's own "temp" word still counts) or
"normaltemp(36.8)"; a pain score "9/10", "9 out of 10", "9 de 10" becomes
"scorehigh" (8-10), "scoremid" (6-7) or "scorelow", which the term lists pair
with a pain word. Only replies with a digit pay
for this.
"""

from __future__ import annotations

import re

# "9/10", "9 out of 10", "8.5 of 10", "9 de 10": run on the normalised text, before
# tokenising, because tokens drop the slash.
_SCORE = re.compile(
    r"(?<![\d.,])(10|\d)(?:[.,]5)?\s*(?:/|out of|outta|of|de|sobre)\s*10(?!\d|[.,]\d)"
)
# "pain level 10", "pain is at a 9", "pain's 8": a score out of 10 without the "/10".
_LEVEL = re.compile(
    r"\bpains?\s+(?:(?:level|score|is|was|at|of|about|around|like|a|an|s)\s+){0,4}(10|\d)"
    r"(?!\d|[.,]\d|\s*(?:/|out\b|of\b|de\b|days?\b|hours?\b|weeks?\b|am\b|pm\b|mg\b))"
)
_DIGIT = re.compile(r"\d")
# A unit straight after the number ("39c", "39 °C" -> 39 c, "102 f", "39 grados").
_CELSIUS = frozenset({"c", "oc", "celsius", "centigrade", "centigrados", "grados"})
_FAHRENHEIT = frozenset({"f", "fahrenheit"})
_UNITS = _CELSIUS | _FAHRENHEIT | {"deg", "degree", "degrees", "grado"}
# A temperature word within WINDOW tokens either side ("temp of 101", "38 de fiebre").
_TEMP_WORDS = frozenset(
    {
        "temp",
        "temps",
        "temperature",
        "temperatures",
        "fever",
        "feverish",
        "thermometer",
        "temperatura",
        "fiebre",
        "calentura",
        "febril",
        "febrile",
        "termometro",
        "running",  # "running 37.9"
        "decimas",  # "unas decimas, 37,8"
        "tengo",  # "tengo 39": Spanish for a temperature of 39 (not before "anos")
        "pico",  # "38 y pico": 38 and a bit
    }
)
# A number followed by one of these is an age, a duration, a weight or a price.
_NOT_TEMPERATURE = frozenset(
    [
        "anos",
        "ano",
        "years",
        "year",
        "yrs",
        "yo",
        "dias",
        "dia",
        "days",
        "day",
        "weeks",
        "semanas",
        "meses",
        "months",
        "hours",
        "horas",
        "minutes",
        "min",
        "mins",
        "am",
        "pm",
        "kg",
        "kilos",
        "lbs",
        "pounds",
        "euros",
        "dollars",
        "units",
        "ml",
    ]
)
WINDOW = 3
FEVER_C, LAST_C, LOW_C = 38.0, 43.0, 35.0  # 38 °C and up is a fever
FEVER_F, LAST_F, LOW_F = 100.4, 110.0, 95.0  # 100.4 °F and up is a fever
RAISED_C, RAISED_F = 37.5, 99.5  # from here up to a fever: low-grade


def has_digit(text: str) -> bool:
    return _DIGIT.search(text) is not None


def mark_scores(text: str) -> str:
    """'pain 9/10' -> 'pain scorehigh' (text already normalised, digits present)."""
    return _LEVEL.sub(_pain_level, _SCORE.sub(_score_word, text))


def _pain_level(match: re.Match[str]) -> str:
    return match.group(0)[: match.start(1) - match.start(0)] + _score_word(match)


def _score_word(match: re.Match[str]) -> str:
    score = int(match.group(1))
    return " scorehigh " if score >= 8 else " scoremid " if score >= 6 else " scorelow "


def mark_temperatures(tokens: list[str]) -> list[str]:
    """Temperature readings as fever(...) / normaltemp(...) tokens, in place."""
    for index, token in enumerate(tokens):
        if token[0].isdigit():
            reading = _reading(tokens, index)
            if reading is not None:
                tokens[index] = f"{reading}({token})"
    return tokens


def _reading(tokens: list[str], index: int) -> str | None:
    token = tokens[index]
    unit = tokens[index + 1] if index + 1 < len(tokens) else ""
    near = tokens[max(0, index - WINDOW) : index] + tokens[index + 1 : index + 1 + WINDOW]
    if unit in _NOT_TEMPERATURE:
        return None
    context = unit in _UNITS or any(t in _TEMP_WORDS for t in near)
    if not context and token.isdigit():
        return None  # "39" alone may be an age or a price; "38.6" is a reading
    value = float(token.replace(",", "."))
    if LOW_C <= value < LAST_C and unit not in _FAHRENHEIT:
        fever, raised = FEVER_C, RAISED_C
    elif LOW_F <= value < LAST_F and unit not in _CELSIUS:
        fever, raised = FEVER_F, RAISED_F
    else:
        return None
    if value >= fever:
        return "fever"
    if not context and (token.isdigit() or value < raised):
        return None  # a decimal from 37.5 °C (99.5 °F) up is a reading on its own
    return "lowtemp" if value >= raised else "normaltemp"
