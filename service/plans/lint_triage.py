"""Lint each plan's warning signs against the triage: a patient who repeats a sign back
must be labelled at least as the sign's route demands (`RedFlagItem.severity`).

For every plan, language and red-flag item the patient's words are the item's text in
lower case after "i have" / "tengo": the whole item, then each alternative it lists. The
text loses its instruction ("Call the emergency number first" after a full stop or a
colon) and its notes in brackets ("(it is not dangerous...)"); a temperature given in
both units ("38 C (100.4 F)") is said in each. Alternatives are the parts of the list
around ", or" / " or " (", o" / " o " / " u "), with the words they share put back:

    "Trouble breathing, swallowing or speaking" -> "trouble swallowing"
    "Pain, swelling, warmth or redness in one calf or leg" -> "warmth in one calf or leg"
    "Bleeding that soaks the dressing, or does not stop..." -> "bleeding that does not stop..."
    "Signs of infection: growing redness, heat, ..." -> "signs of infection", "heat", ...

Each phrase is classified on day 1 and day 7 (day 10 when it speaks of a week or more)
with the plan's key as the procedure. A phrase labelled below the sign's severity is an
error naming plan, language, item, phrase, day and label: the plan tells patients to
report something the triage would not put in front of a person in time. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from service.plans.lint_checks import Finding
from service.plans.model import Plan
from service.plans.red_flags import RedFlagItem, label_meets
from service.triage import TriageResult, lexicon_only

Classify = Callable[..., TriageResult]  # classify(text, procedure=..., day=...)

I_HAVE = {"en": "i have", "es": "tengo"}
DAYS, LONG_DAYS = (1, 7), (1, 10)
_LONG = re.compile(r"\b(weeks?|semanas?)\b")


@dataclass(frozen=True)
class Words:
    """One language's small grammar for finding the alternatives in a list."""

    ors: tuple[str, ...]  # "or" words
    articles: frozenset[str]
    # A suffix shared by the list ("... that keeps growing", "... in one calf") starts here.
    markers: frozenset[str]
    # A part starting with one of these continues the first part ("..., or does not stop").
    verbs: frozenset[str]
    relatives: frozenset[str]
    linkers: frozenset[str]  # "pus with redness, pain or a fever" -> "pus with pain"
    # " or " is no list when followed by one of these ("38 C or more", "in or near")...
    not_after: frozenset[str]
    # ...or when it follows one of these.
    not_before: frozenset[str]
    no_suffix: frozenset[str]  # a shared tail never starts with these ("for", "de")
    instructions: frozenset[str]  # a sentence or colon tail telling what to do


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


WORDS = {
    "en": Words(
        ors=("or",),
        articles=_set("a an the"),
        markers=_set(
            "that which where who in on at around near inside under spreading growing "
            "lasting getting turning coming poking"
        ),
        verbs=_set(
            "does doesn't do don't keeps gets is are turns looks feels shoots spreads "
            "lasts will won't has becomes stays goes"
        ),
        relatives=_set("that which where who"),
        linkers=_set("with"),
        not_after=_set("more higher above over less near"),
        not_before=_set("in at on near"),
        no_suffix=_set("of for to with and or up"),
        instructions=_set("call phone ring go seek contact"),
    ),
    "es": Words(
        ors=("o", "u"),
        articles=_set("un una unos unas el la los las"),
        markers=_set("que donde en alrededor cerca sobre"),
        verbs=_set(
            "no sigue siguen empeora empeoran da dan se es está están duele dura duran "
            "tiene queda parece"
        ),
        relatives=_set("que donde"),
        linkers=_set("con"),
        not_after=_set("más mayor superior menos cerca"),
        not_before=_set("en cerca"),
        no_suffix=_set("de del para por con a al y o e"),
        instructions=_set("llame acuda vaya contacte"),
    ),
}


@dataclass(frozen=True)
class TriageCheck:
    """One phrase of one sign on one day, and what the triage made of it."""

    plan: str
    language: str
    item: str
    phrase: str
    day: int
    label: str
    wanted: str

    @property
    def ok(self) -> bool:
        return label_meets(self.label, self.wanted)


def lint_triage(plans: Sequence[Plan], classifier: Classify = lexicon_only) -> list[Finding]:
    """An error per phrase triaged below its sign's severity (its failing days together)."""
    findings = _unchecked(plans)
    failed: dict[tuple[str, str, str, str], list[TriageCheck]] = {}
    for check in triage_checks(plans, classifier):
        if not check.ok:
            key = (check.plan, check.language, check.item, check.phrase)
            failed.setdefault(key, []).append(check)
    return findings + [_finding(checks) for checks in failed.values()]


def _unchecked(plans: Sequence[Plan]) -> list[Finding]:
    """A language without an "I have" form, a sign with no words: never a silent pass."""
    findings = []
    for plan in plans:
        for lang in plan.languages:
            if lang not in WORDS:
                msg = f"no 'I have' form for {lang!r}: its signs cannot be checked by triage"
                findings.append(Finding("error", msg, plan.key, language=lang))
                continue
            for item in plan.red_flag_items:
                if not patient_phrases(item, lang):
                    msg = f"triage: sign {item.key!r} has no words a patient could repeat"
                    findings.append(Finding("error", msg, plan.key, language=lang))
    return findings


def _finding(checks: list[TriageCheck]) -> Finding:
    first = checks[0]
    got = ", ".join(f"{c.label!r} on day {c.day}" for c in checks)
    msg = (
        f"triage: sign {first.item!r}: a patient writing {first.phrase!r} gets {got}; the "
        f"sign needs at least {first.wanted!r}"
    )
    return Finding("error", msg, first.plan, language=first.language)


def triage_checks(plans: Sequence[Plan], classifier: Classify = lexicon_only) -> list[TriageCheck]:
    """Every phrase of every sign, classified on each of its days."""
    return [
        TriageCheck(plan.key, lang, item.key, phrase, day, label, item.severity)
        for plan in plans
        for lang in plan.languages
        if lang in WORDS
        for item in plan.red_flag_items
        for phrase in patient_phrases(item, lang)
        for day in check_days(phrase)
        for label in [classifier(phrase, procedure=plan.key, day=day).label]
    ]


def check_days(phrase: str) -> tuple[int, ...]:
    return LONG_DAYS if _LONG.search(phrase) else DAYS


def patient_phrases(item: RedFlagItem, language: str) -> list[str]:
    """What a patient repeating the sign writes: "i have " + the whole, then each part."""
    parts = sign_parts(item.texts[language].text, language)
    return [f"{I_HAVE[language]} {part}" for part in parts]


def sign_parts(text: str, language: str) -> list[str]:
    """The sign's words in lower case: the whole, its heading, and each alternative."""
    words = WORDS[language]
    parts: list[str] = []
    for variant in _unit_variants(text):
        whole = _without_notes(variant.lower(), words)
        head, colon, body = whole.partition(": ")
        parts += [whole, head] if colon else [whole]
        parts += _alternatives(body if colon else whole, words)
    return list(dict.fromkeys(p for p in parts if p))


_UNITS = re.compile(r"(\d+(?:[.,]\d+)? ?[CF])\b \((\d+(?:[.,]\d+)? ?[CF])\)")


def _unit_variants(text: str) -> list[str]:
    """ "38 C (100.4 F)" -> the text with "38 C", and again with "100.4 F"."""
    if not _UNITS.search(text):
        return [text]
    return [_UNITS.sub(r"\1", text), _UNITS.sub(r"\2", text)]


def _without_notes(text: str, words: Words) -> str:
    """No notes in brackets, no instruction sentence or colon tail, one space each."""
    text = " ".join(re.sub(r"\([^)]*\)", " ", text).split())
    text = text.replace(" ,", ",").replace(" .", ".").replace(" :", ":")
    sentences = [s.strip() for s in re.split(r"\.(?:\s+|$)", text) if s.strip()]
    kept = [s for n, s in enumerate(sentences) if n == 0 or not _instruction(s, words)]
    text = ". ".join(kept)
    head, colon, tail = text.partition(": ")
    return head if colon and _instruction(tail, words) else text


def _instruction(text: str, words: Words) -> bool:
    return text.split(" ", 1)[0] in words.instructions


def _alternatives(body: str, words: Words) -> list[str]:
    """Each alternative of a list, the shared words put back."""
    chunks = re.split(r", (?:" + "|".join(words.ors) + r") ", body)
    if len(chunks) == 1 and not _or_split(body, words)[1]:
        return []  # no list
    first = _elements(chunks[0], words)[0].text
    parts: list[str] = []
    for n, chunk in enumerate(chunks):
        if n and _continues(chunk, words):
            chunk = _attach(first, chunk, words)
        parts += [e.text for e in _resolve(_elements(chunk, words), words)]
    return parts


@dataclass
class _Element:
    text: str
    after_or: bool = False  # it closes a list ("A, B or C": C)
    prefixed: bool = False  # it got the first part's head ("trouble" + "swallowing")
    continued: bool = False  # it got the first part's head ("bleeding that" + "does not")


def _or_split(piece: str, words: Words) -> tuple[str, str | None]:
    """ "warmth or redness in one calf or leg" -> ("warmth", "redness in one calf or leg")."""
    tokens = piece.split(" ")
    for n, token in enumerate(tokens[1:-1], start=1):
        listed = tokens[n + 1] not in words.not_after and tokens[n - 1] not in words.not_before
        if token in words.ors and listed:
            return " ".join(tokens[:n]), " ".join(tokens[n + 1 :])
    return piece, None


def _elements(chunk: str, words: Words) -> list[_Element]:
    """The chunk's list elements, continuations ("or keeps getting worse") completed."""
    elements: list[_Element] = []
    for piece in chunk.split(", "):
        left, right = _or_split(piece, words)
        elements.append(_Element(left))
        if right is not None:
            elements.append(_Element(right, after_or=True))
    for element in elements[1:]:
        if _continues(element.text, words):
            element.text = _attach(elements[0].text, element.text, words)
            element.continued = True
    return elements


def _continues(text: str, words: Words) -> bool:
    start = text.split(" ", 1)[0]
    return start in words.verbs or start in words.relatives or start in words.linkers


def _attach(first: str, rest: str, words: Words) -> str:
    """ "bleeding that soaks the dressing" + "does not stop" -> "bleeding that does not
    stop"; + "que no para" -> "sangrado que no para"; + "con manchas" -> "piel con manchas"."""
    tokens = first.split(" ")
    relative = max((n for n, t in enumerate(tokens) if t in words.relatives), default=None)
    if relative is None:
        head = tokens[: _head_end(tokens, words)]
    elif rest.split(" ", 1)[0] in words.verbs:
        head = tokens[: relative + 1]
    else:
        head = tokens[:relative]
    return " ".join([*head, rest])


def _head_end(tokens: list[str], words: Words) -> int:
    """Articles and one word: "dolor fuerte" -> "dolor", "a rash that..." -> "a rash"."""
    n = 0
    while n < len(tokens) - 1 and tokens[n] in words.articles:
        n += 1
    return n + 1


def _resolve(elements: list[_Element], words: Words) -> list[_Element]:
    """Share words within each list: "A, B or C" is one list, closed by the "or"."""
    groups: list[list[_Element]] = [[]]
    for element in elements:
        groups[-1].append(element)
        if element.after_or:
            groups.append([])
    previous: list[_Element] = []
    for group in (g for g in groups if g):
        if not (_share_linker(group, words) or _share_suffix(group, words)):
            _share_prefix(group, previous, words)
        previous = group
    return elements


def _bare(text: str, words: Words) -> bool:
    """One word with its article: "tongue", "la garganta"."""
    return len([t for t in text.split(" ") if t not in words.articles]) == 1


def _has_article(text: str, words: Words) -> bool:
    return text.split(" ", 1)[0] in words.articles


def _share_linker(group: list[_Element], words: Words) -> bool:
    """ "pus with redness, pain or a fever" -> "pus with pain", "pus with a fever"."""
    tokens = group[0].text.split(" ")
    link = next((n for n, t in enumerate(tokens[1:], 1) if t in words.linkers), None)
    closed = len(group) > 1 and group[-1].after_or
    if link is None or not closed or any(_linked(e.text, words) for e in group[1:]):
        return False
    for element in group[1:]:
        element.text = " ".join([*tokens[: link + 1], element.text])
    return True


def _linked(text: str, words: Words) -> bool:
    return any(t in words.linkers for t in text.split(" "))


def _share_suffix(group: list[_Element], words: Words) -> bool:
    """ "swelling, redness or pain that keeps growing" -> "swelling that keeps growing";
    "double or blurred vision" -> "double vision"."""
    last = group[-1]
    if len(group) < 2 or not last.after_or or last.continued:
        return False
    tokens = last.text.split(" ")
    mark = _mark(tokens, words)
    if mark is not None:
        suffix = tokens[mark:]
        takers = [e for e in group[:-1] if _mark(e.text.split(" "), words) is None]
    else:
        suffix = tokens[_head_end(tokens, words) :]
        takers = [e for e in group[:-1] if _bare(e.text, words)]
        if not suffix or suffix[0] in words.no_suffix:
            return False
    if _has_article(last.text, words):
        takers = [e for e in takers if _has_article(e.text, words)]
    for element in takers:
        element.text = " ".join([element.text, *suffix])
    return bool(takers)


def _mark(tokens: list[str], words: Words) -> int | None:
    """Where a tail that other parts may share starts (never at the first word)."""
    return next((n for n, t in enumerate(tokens[1:], 1) if t in words.markers), None)


def _share_prefix(group: list[_Element], previous: list[_Element], words: Words) -> bool:
    """ "trouble breathing, swallowing or speaking" -> "trouble swallowing"; "a drooping
    mouth or eyelid" -> "a drooping eyelid"; "pálida o blanca, azulada" -> each with the
    head "piel ... que se pone"."""
    first = group[0]
    if not _bare(first.text, words) and all(_bare(e.text, words) for e in group[1:]):
        source, takers = first, group[1:]
    elif len(group) > 1 and group[-1].after_or and _bare(group[-1].text, words):
        source, takers = group[-2], group[-1:]
        closed_singles = all(_bare(e.text, words) for e in group)
        if closed_singles and previous and previous[-1].prefixed:
            source, takers = previous[-1], group
        elif _bare(source.text, words):
            return False
    else:
        return False
    if not all(_fits(source.text, e.text, words) for e in takers):
        return False  # "growing redness, heat, pus or a fever": whole names, nothing shared
    for element in takers:
        element.text = _with_head(source.text, element.text, words)
        element.prefixed = True
    return True


def _fits(source: str, single: str, words: Words) -> bool:
    """A single with an article replaces one: "hinchazón de la lengua" + "la garganta"."""
    tokens = source.split(" ")
    return not _has_article(single, words) or (len(tokens) > 2 and tokens[-2] in words.articles)


def _with_head(source: str, single: str, words: Words) -> str:
    """The source without its last word (and its article when `single` has its own)."""
    tokens = source.split(" ")[:-1]
    if _has_article(single, words) and tokens and tokens[-1] in words.articles:
        tokens = tokens[:-1]
    return " ".join([*tokens, single])
