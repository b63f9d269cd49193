"""Context of each matched term: negated, hypothetical, resolved, someone else's.

A NegEx-style pass: triggers found by the lexicon index open a scope that runs to
the end of a segment (a clause cut at commas and words such as "but"/"pero"), so
"no pain but pus coming out" negates pain and not pus.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from itertools import accumulate, pairwise

from service.triage import concepts, pairs
from service.triage.lexicon import SEVERITY, Lexicon
from service.triage.patterns import Hit
from service.triage.text import BOUNDARY, COMMA

NORMAL_SEVERITY = SEVERITY["normal"]
PRESENT, NEGATED, HYPOTHETICAL, RESOLVED, OTHER_PERSON = (
    "present",
    "negated",
    "hypothetical",
    "resolved",
    "other person",
)


@dataclass(slots=True)
class Finding:
    """One matched term with its context."""

    term_class: str
    phrase: str
    status: str
    severe: bool = False
    mild: bool = False
    worse: bool = False
    clause: int = 0  # sentence number in the reply
    rule: bool = False  # joined from concepts (concepts.yaml), not a phrase


@dataclass(slots=True)
class _Layout:
    clause: list[int]  # per token: clause number (cut at . ! ? ; new line)
    segment: list[int]  # per token: segment number (also cut at commas and terminators)
    negation: list[int]  # per token: negation scope number (also cut at "and")


def analyse(
    tokens: list[str], hits: list[Hit], lexicon: Lexicon, procedure: str | None = None
) -> list[Finding]:
    """Findings for the terms in tokens, in reading order."""
    layout = _layout(tokens, lexicon.terminators, lexicon.scope_breakers)
    kinds: dict[str, list[Hit]] = defaultdict(list)
    for hit in hits:
        kinds[hit.payload[0]].append(hit)
    words = _outermost(kinds["term"], lexicon)
    pseudo = kinds["negpseudo"]
    # A trigger inside a phrase of a symptom or pair is that phrase's own word ("the pills
    # aren't doing a thing"); inside a reassurance it still negates ("no problems
    # breathing or swallowing").
    symptoms = [w for w in words if lexicon.classes[w.payload[1]].severity != NORMAL_SEVERITY]
    phrases = symptoms + kinds[pairs.PAIR_A] + kinds[pairs.PAIR_B]
    # A concept's own negation is part of it ("no retiene el agua", "doesn't lift"); only
    # a concept of several words can hold one.
    with_concepts = phrases + [c for c in kinds[concepts.CONCEPT] if c.end - c.start > 1]
    triggers = {
        "neg": _without(kinds["neg"], pseudo, with_concepts),
        "negpost": _without(kinds["negpost"], pseudo, with_concepts),
        # "what if my leg is swollen? because that's how it is": the question reports it
        "hyp": [] if kinds["hypaffirm"] else _without(kinds["hyp"], kinds["hyppseudo"], phrases),
        "res": _without(kinds["res"], pseudo, phrases),
    }
    # Joined pairs never hide a term: they only add what ordered phrases missed.
    joined = pairs.join(kinds[pairs.PAIR_A], kinds[pairs.PAIR_B], layout.segment, lexicon.pairs)
    if joined:  # ...unless a phrase as long or longer holds it ("cara torcida cuando sonrio")
        joined = [
            j
            for j in joined
            if not any(
                w.start <= j.start and j.end <= w.end and w.end - w.start >= j.end - j.start
                for w in words
            )
        ]
    terms = words + joined
    if kinds[concepts.CONCEPT]:
        terms += _concept_terms(kinds, layout, lexicon, procedure, terms)
    terms.sort()
    subjects = [c for c in kinds[concepts.CONCEPT] if c.payload[1] in lexicon.rules.subjects]
    resolved = _resolved(terms, triggers["res"] + kinds["respre"], layout, subjects)
    # Most replies hold no trigger and no intensity word: then every term is present
    # and plain, and the per-term look-ups below are skipped (the hot path of triage).
    contextual = any(triggers.values()) or bool(resolved or kinds["owner"])
    weighted = bool(kinds["severe"] or kinds["mild"] or kinds["worse"])
    findings = []
    for term in terms:
        status = (
            _status(term, tokens, triggers, kinds, layout, lexicon, resolved)
            if contextual
            else PRESENT
        )
        if weighted:
            findings.append(_finding(term, tokens, status, kinds, layout, lexicon))
        else:
            findings.append(_plain_finding(term, tokens, status, layout))
    return findings


def _concept_terms(
    kinds: dict[str, list[Hit]],
    layout: _Layout,
    lexicon: Lexicon,
    procedure: str | None,
    terms: list[Hit],
) -> list[Hit]:
    """Rule terms joined from concepts, then the findings nothing places. A concept
    inside a phrase that is not a symptom ("red wine", "cold compress") is dropped."""
    hiding = lexicon.hiding
    masks = [t for t in kinds["term"] if t.payload[1] in hiding]
    found = kinds[concepts.CONCEPT]
    if masks:
        guards = lexicon.rules.guards
        found = [
            c
            for c in found
            if c.payload[1] in guards
            or not any(m.start <= c.start and c.end <= m.end for m in masks)
        ]
    units = {"segment": layout.segment, "sentence": layout.clause}
    ruled = concepts.join(found, lexicon.rules, units, procedure)
    return ruled + concepts.unplaced(found, lexicon.rules.findings, terms + ruled)


def _layout(tokens: list[str], terminators: frozenset[str], breakers: frozenset[str]) -> _Layout:
    """Running counts of the tokens that open a new clause, segment or negation scope
    (the opening token belongs to the new one)."""
    segment_ends, negation_ends = _scope_ends(terminators, breakers)
    return _Layout(
        clause=list(accumulate(map(BOUNDARY.__eq__, tokens))),
        segment=list(accumulate(map(segment_ends.__contains__, tokens))),
        negation=list(accumulate(map(negation_ends.__contains__, tokens))),
    )


@cache
def _scope_ends(
    terminators: frozenset[str], breakers: frozenset[str]
) -> tuple[frozenset[str], frozenset[str]]:
    segment_ends = terminators | {BOUNDARY, COMMA}
    return segment_ends, segment_ends | breakers


def _outermost(terms: list[Hit], lexicon: Lexicon) -> list[Hit]:
    """Terms not inside a longer (or equally long, more severe) term: "eyelid is
    drooping" (concern) hides "drooping" (urgent), while partly overlapping terms
    ("tongue is swelling up and its hard to swallow") all count."""

    if len(terms) < 2 or all(a.end <= b.start for a, b in pairwise(terms)):
        return terms  # one term, or terms in reading order that do not overlap
    unique = sorted(set(terms), key=lambda h: (h.start, h.end, h.payload))
    rank = {h: (h.end - h.start, lexicon.classes[h.payload[1]].severity) for h in unique}
    return [
        hit
        for hit in unique
        if not any(
            o.start <= hit.start and hit.end <= o.end and rank[o] > rank[hit] for o in unique
        )
    ]


def _overlap(a: Hit, b: Hit) -> bool:
    return a.start < b.end and b.start < a.end


def _without(triggers: list[Hit], pseudo: list[Hit], terms: list[Hit]) -> list[Hit]:
    """Triggers that are not part of a pseudo-trigger ("no idea") nor of a term's own
    words ("no puedo respirar"); one may overlap a term's start ("no more | pain")."""
    if not triggers:
        return triggers
    return [
        t
        for t in triggers
        if not any(_overlap(t, p) for p in pseudo)
        and not any(m.start <= t.start and t.end <= m.end for m in terms)
    ]


def _before(
    trigger: Hit, term: Hit, layout: _Layout, window: int = 99, scopes: list[int] | None = None
) -> bool:
    scope = layout.segment if scopes is None else scopes
    same = scope[trigger.start] == scope[term.start]
    gap = term.start - min(trigger.end, term.start)
    return same and trigger.start < term.start and gap < window


def _after(trigger: Hit, term: Hit, layout: _Layout, window: int = 99) -> bool:
    same = layout.segment[trigger.start] == layout.segment[term.end - 1]
    return same and trigger.start >= term.end and trigger.start - term.end < window


def _resolved(
    terms: list[Hit], triggers: list[Hit], layout: _Layout, subjects: list[Hit]
) -> set[int]:
    """Starts of resolved terms. A trigger with no term of its own in its segment
    ("had some swelling yesterday, gone now") resolves the terms of the segment just
    before it, unless its segment names a body part of its own ("the right eye is
    fine"); a segment further back is left alone ("my right leg is red and hot. Other
    leg is normal. Is ok?")."""
    done: set[int] = set()
    for trigger in triggers:
        if trigger.payload == ("respre",):
            done.update(t.start for t in terms if _before(trigger, t, layout))
            continue
        own = [t for t in terms if _after(trigger, t, layout)]
        segment = layout.segment[trigger.start]
        if not own and not any(layout.segment[s.start] == segment for s in subjects):
            earlier = [t for t in terms if t.end <= trigger.start]
            last = segment - 1
            own = [t for t in earlier if layout.segment[t.start] == last]
        done.update(t.start for t in own)
    return done


def _status(
    term: Hit,
    tokens: list[str],
    triggers: dict[str, list[Hit]],
    kinds: dict[str, list[Hit]],
    layout: _Layout,
    lexicon: Lexicon,
    resolved: set[int],
) -> str:
    window = lexicon.negation_window
    if term.payload[2:3] == (concepts.RULE,):
        # A rule is negated when one of its concepts is: "my calf is not swollen".
        parts = term.payload[3] if len(term.payload) > 3 else (term.start,)
        if any(
            _before(t, Hit(p, p + 1, ()), layout, window, layout.negation)
            for p in parts
            for t in triggers["neg"]
        ) or any(
            _after(t, Hit(p, p + 1, ()), layout, 3) for p in parts for t in triggers["negpost"]
        ):
            return NEGATED
    elif len(term.payload) > 2 and any(term.start < t.start < term.end for t in triggers["neg"]):
        return NEGATED  # a joined pair with a negation inside: "my chest isn't sore"
    if any(_before(t, term, layout, window, layout.negation) for t in triggers["neg"]) or any(
        _after(t, term, layout, 3) for t in triggers["negpost"]
    ):
        return NEGATED
    if any(_before(t, term, layout) for t in triggers["hyp"]):
        return HYPOTHETICAL
    if term.start in resolved:
        return RESOLVED
    if (
        kinds["owner"]
        and not kinds["carer"]
        and _someone_else(term, kinds, layout, lexicon, tokens)
    ):
        return OTHER_PERSON
    return PRESENT


def _someone_else(
    term: Hit, kinds: dict[str, list[Hit]], layout: _Layout, lexicon: Lexicon, tokens: list[str]
) -> bool:
    """ "my daughter has a fever", but not "my husband says my lips are blue"."""
    for owner in kinds["owner"]:
        if owner.end > term.start or layout.clause[owner.start] != layout.clause[term.start]:
            continue
        reports = any(owner.end <= r.start <= owner.end + 1 for r in kinds["reporter"])
        mine = any(t in lexicon.self_words for t in tokens[owner.end : term.start])
        if not reports and not mine:
            return True
    return False


def _plain_finding(term: Hit, tokens: list[str], status: str, layout: _Layout) -> Finding:
    """A finding with no intensity word in the reply (see _finding)."""
    return Finding(
        term_class=str(term.payload[1]),
        phrase=" ".join(tokens[term.start : term.end]),
        status=status,
        clause=layout.clause[term.start],
        rule=term.payload[2:3] == (concepts.RULE,),
    )


def _finding(
    term: Hit,
    tokens: list[str],
    status: str,
    kinds: dict[str, list[Hit]],
    layout: _Layout,
    lexicon: Lexicon,
) -> Finding:
    window = lexicon.intensity_window

    def near(kind: str) -> bool:
        return any(
            _before(m, term, layout, window)
            or _after(m, term, layout, 2)
            or term.start <= m.start < m.end <= term.end  # "lips a bit swollen"
            for m in kinds[kind]
        )

    segment = layout.segment[term.start]
    return Finding(
        term_class=str(term.payload[1]),
        phrase=" ".join(tokens[term.start : term.end]),
        status=status,
        severe=near("severe"),
        mild=near("mild"),
        worse=any(layout.segment[w.start] == segment for w in kinds["worse"]),
        clause=layout.clause[term.start],
        rule=term.payload[2:3] == (concepts.RULE,),
    )
