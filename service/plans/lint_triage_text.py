"""The triage check for warning signs a clinic names in its own words. Pure.

`lint_triage` checks the plan's warning signs: a patient repeating one back is triaged
at least as urgently as its route says. A clinic's text may also send the patient to
the emergency number, or tell them to call the clinic now, for something the plan does
not list ("Call 911 now for sudden hearing loss"). Such a sentence is where the check
applies: the words after "for" / "if" / "when" ("por", "si", "cuando"...) are split into
their alternatives like a sign's text, and each, written back by a patient ("i have
sudden hearing loss", or the bare words), must be labelled urgent on days 1 and 7. A
sentence that names one of the plan's signs is left to `lint_triage`; one that names
nothing in particular ("in an emergency", "if you are worried") is not a sign.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from service.domain import Channel
from service.plans.lint_checks import SAMPLE, Finding
from service.plans.lint_content import signs_in
from service.plans.lint_language import RULES, mentions, units
from service.plans.lint_triage import I_HAVE, WORDS, Classify, check_days, sign_parts
from service.plans.model import Plan, template_name
from service.plans.red_flags import label_meets
from service.rendering import Rendered
from service.triage import lexicon_only

Key = tuple[str, Channel, str]  # step, channel, language
URGENT = "urgent"
_CUES = {
    "en": r"\b(?:for|if you (?:have|notice|get|see|feel)|if there is|if|when)\b",
    "es": r"\b(?:por|para|si (?:tiene|nota|hay|siente|ve)|si|ante|cuando)\b",
}
_END = re.compile(r"[.:;!?]|, (?:call|llame|go|vaya|acuda)\b|\b(?:call|llame|llamenos)\b")
_GENERIC = {
    "en": r"\b(?:emergenc\w*|any of these|these|this|anything|something|worried|unsure|not sure"
    r"|questions?|concerns?|help|advice|urgent\w*|unwell|what to do)\b",
    "es": r"\b(?:emergencia\w*|alguno de estos|alguna de estas|estos|estas|esto|algo|preocupa\w*"
    r"|dudas?|pregunta\w*|ayuda|urgen\w*|lo que debe hacer)\b",
}
_NUMBER = re.compile(r"\+?\d[\d ()-]*\d")
_RANK = {"urgent": 2, "concern": 1}


def lint_route_sentences(
    plan: Plan, rendered: Mapping[Key, Rendered], classifier: Classify = lexicon_only
) -> list[Finding]:
    """An error per phrase of a clinic-named urgent sign that triage labels below urgent."""
    findings = []
    for (step, channel, lang), result in rendered.items():
        if lang not in WORDS or lang not in RULES:
            continue
        for phrase in urgent_phrases(plan, result.text, lang):
            labels = [
                (day, _label(classifier, plan, phrase, lang, day)) for day in check_days(phrase)
            ]
            low = [(day, label) for day, label in labels if not label_meets(label, URGENT)]
            if low:
                findings.append(_finding(plan, (step, channel, lang), phrase, low))
    return findings


def urgent_phrases(plan: Plan, text: str, lang: str) -> list[str]:
    """The sign phrases of the sentences that send the patient for help at once and name
    none of the plan's signs."""
    phrases: list[str] = []
    for unit in units(text):
        urgent = SAMPLE["emergency_phone"] in unit.whole or mentions(RULES[lang].clinic_now,
                                                                      unit.whole)  # fmt: skip
        if not urgent or signs_in(plan, unit.text, lang):
            continue
        clause = _clause(unit.text, lang)
        if clause and not re.search(_GENERIC[lang], clause):
            phrases += sign_parts(clause, lang) or [clause]
    return list(dict.fromkeys(phrases))


def _clause(text: str, lang: str) -> str:
    """The words after the first cue, up to the end of the condition."""
    text = re.sub(r"\([^)]*\)", " ", _NUMBER.sub(" ", text))
    cue = re.search(_CUES[lang], text)
    if cue is None:
        return ""
    tail = _END.split(text[cue.end() :], maxsplit=1)[0]
    return " ".join(tail.split()).strip(" ,")


def _label(classifier: Classify, plan: Plan, phrase: str, lang: str, day: int) -> str:
    """The most urgent label of the phrase as a patient might write it back."""
    labels = [
        classifier(text, procedure=plan.key, day=day).label
        for text in (f"{I_HAVE[lang]} {phrase}", phrase)
    ]
    return max(labels, key=lambda label: _RANK.get(label, 0))


def _finding(plan: Plan, key: Key, phrase: str, low: list[tuple[int, str]]) -> Finding:
    step, channel, lang = key
    got = ", ".join(f"{label!r} on day {day}" for day, label in low)
    msg = (
        f"triage: this text asks for help at once for {phrase!r}, a sign the plan does not "
        f"list, but a patient writing it back gets {got}: nobody would be paged. Name the "
        'plan\'s warning signs in its words, or send this one to "call us today"'
    )
    name = template_name(plan.key, step, channel, lang)
    return Finding("error", msg, plan.key, step, name, channel=channel.value, language=lang)
