"""classify(): one patient reply -> a triage label (DESIGN §6, contract).

How a reply is read: phrases (templates/triage/terms.yaml) and concepts
(templates/triage/concepts.yaml: body site x finding x trajectory, combined by rules
per procedure) are found in one pass; each gets its context (negated, hypothetical,
resolved, someone else's); the most severe finding, for this procedure and day, sets
the label. `result.matches` says why ("clot_sign: calf is swollen", "fever (negated)").

Order of precedence (STYLE §12): an urgent symptom outranks everything, even an
opt-out word in the same message; then STOP; then START/HELP; then check-in
answers, which never lower what the text itself says.

Decisions where the brief left a choice (safer label when unsure):
- Safe by default: a finding (a change in the body) that no phrase or rule places as
  expected for this procedure and day is `unplaced_change`, `concern`; `normal` needs
  positive evidence; thanks and acknowledgements are `other`.
- A red flag that has passed ("couldn't breathe last night, fine now") stays `urgent`
  for breathing, swallowing, vision, speech, face and limb weakness, chest pain,
  allergy, fainting and blanching after filler; other resolved red flags are
  `concern`, a resolved ordinary symptom `normal`.
- The plans are the reference for severity: a sign a plan tells the patient to call
  about straight away is `urgent` for that procedure (`by_procedure`), and the plans
  linter proves every sign, repeated in the plan's own words, gets at least that.
- Check-in "3" (call me) is `concern`: a call-back must reach a person within the
  day; "2" is `concern`, "1" is `normal`; `result.checkin` carries the number.
- STOP plus a concern-level symptom is `stop` (the opt-out is a legal duty), with
  `result.severity == "concern"` so the inbound flow can still tell the clinic.
- Someone else's symptom ("my daughter has a fever") counts as it would for the
  patient when it needs a person (`concern`, `urgent`): a carer may be writing about
  the patient without saying so; only what would be `normal` is dropped.
- A day-dependent symptom (swelling, numbness, redness...) with no day known is read
  as early healing; the reply's own "for two weeks" counts when it says more than the
  calendar, and "my lip filler" when the caller gives no procedure.
- A long email is read in windows of a few sentences, up to MAX_CHARS characters;
  past that it is at least `concern` with "long reply: read it whole".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.triage import context
from service.triage.concepts import CONCEPT
from service.triage.context import Finding
from service.triage.keywords import (
    detect_checkin,
    detect_intent,
    infer_day,
    infer_procedure,
    words_of,
)
from service.triage.lexicon import SEVERITY, Combo, Lexicon, TermClass, load_lexicon
from service.triage.measures import has_digit, mark_scores, mark_temperatures
from service.triage.pairs import PAIR_A
from service.triage.patterns import Hit
from service.triage.second_opinion import needs_a_person
from service.triage.text import BOUNDARY, normalise, strip_quoted, tokenise

LABELS = ("urgent", "concern", "normal", "stop", "start", "help", "other")
PROCEDURES = (
    "surgery",
    "thread_lift",
    "rf_skin_tightening",
    "botox",
    "microneedling",
    "dermal_filler",
)
_NAMES = {v: k for k, v in SEVERITY.items() if v}
URGENT, CONCERN, NORMAL = SEVERITY["urgent"], SEVERITY["concern"], SEVERITY["normal"]
_TERM_KINDS = frozenset({"term", PAIR_A, CONCEPT})
# A reply is read in windows of this many tokens (the context rules look no further
# than a sentence), and up to MAX_CHARS characters: past that, a person reads it.
WINDOW_TOKENS = 64
MAX_CHARS = 20_000
LONG_REPLY = "long reply: read it whole"
SECOND_OPINION = "second opinion (learned model)"  # a match that names the model, not a phrase
# A reply this short that the lexicon read as expected healing ("face is red" on day 2 of
# microneedling) holds nothing more for the model to read.
EXPLAINED_WORDS = 6
_REASSURING = frozenset({context.NEGATED, context.RESOLVED})


@dataclass(slots=True)  # not frozen: built once per reply, on the hot path
class TriageResult:
    """What classify() found.

    label: urgent, concern, normal, stop, start, help or other.
    matches: the phrases behind the label, for the staff view ("no fever" shows as
        "fever (negated)").
    checkin: 1, 2 or 3 when the reply answers the structured check-in, else None.
    intent: stop, start or help when a carrier keyword is present, even if the label
        is urgent (the inbound flow may still honour the opt-out after alerting).
    severity: the symptom level behind the text (urgent/concern/normal) or None.
    """

    label: str
    matches: list[str] = field(default_factory=list)
    checkin: int | None = None
    intent: str | None = None
    severity: str | None = None
    lexicon_version: str = ""


def classify(
    text: str,
    procedure: str | None = None,
    day: int | None = None,
    *,
    lexicon: Lexicon | None = None,
    second_opinion: bool = True,
) -> TriageResult:
    """Triage one patient reply; procedure and day (since the procedure) refine it.
    second_opinion=False: the lexicon alone (service/triage/second_opinion.py)."""
    lex = lexicon or load_lexicon()
    body = strip_quoted(text)
    too_long = len(body) > MAX_CHARS  # read up to the cap; a person reads the whole
    clean = normalise(body[:MAX_CHARS] if too_long else body, lex.emoji)
    if has_digit(clean):  # temperatures and pain scores; most replies have no digit
        tokens = mark_temperatures(lex.typos.correct_all(tokenise(mark_scores(clean))))
    else:
        tokens = lex.typos.correct_all(tokenise(clean))
    hits, findings, procedure = _find(tokens, lex, procedure)
    if findings and any(lex.classes[f.term_class].expected for f in findings):
        # The reply's own "for two weeks" counts when it says more than the calendar.
        said = infer_day(tokens, lex)
        day = said if day is None or (said is not None and said > day) else day
    words = words_of(tokens)
    levels = [_level(f, lex.classes[f.term_class], procedure, day, len(words)) for f in findings]
    levels = _explained_away(findings, levels, lex)
    level = max([*levels, _combo_level(findings, lex.combos)], default=0)
    if too_long:
        level = max(level, CONCERN)
    intent = detect_intent(tokens, hits, lex, words)
    checkin = detect_checkin(tokens, lex)
    label = _label(level, intent, checkin, findings, lex)
    matches = _matches(findings, levels, intent, checkin)
    if (
        second_opinion
        and label in ("normal", "other")
        and intent is None
        and checkin is None
        and not (label == "normal" and len(words) < EXPLAINED_WORDS)
    ):
        # The lexicon found nothing for a person: the learned model may see what it
        # lacks, including a context it misread ("no joke my lip has gone white",
        # "can't get up the stairs without getting out of breath": read as negated).
        second = needs_a_person(body[:MAX_CHARS])
        if second is not None:
            label, level = "concern", CONCERN
            matches.append(
                f"{SECOND_OPINION}: {second.probability:.2f} ({', '.join(second.reasons)})"
            )
    return TriageResult(
        label=label,
        matches=[*matches, LONG_REPLY] if too_long else matches,
        checkin=checkin,
        intent=intent,
        severity=_NAMES.get(level),
        lexicon_version=lex.version,
    )


def _find(
    tokens: list[str], lex: Lexicon, procedure: str | None
) -> tuple[list[Hit], list[Finding], str | None]:
    """Every phrase and its context, window by window so that the work grows linearly
    with a long email; the procedure named in the reply fills in an unknown one."""
    if len(tokens) <= WINDOW_TOKENS:
        hits = lex.index.find(tokens)
        if not any(h.payload[0] in _TERM_KINDS for h in hits):
            return hits, [], procedure
        procedure = procedure or infer_procedure(hits)
        return hits, context.analyse(tokens, hits, lex, procedure), procedure
    windows = [(start, end, lex.index.find(tokens[start:end])) for start, end in _windows(tokens)]
    all_hits = [Hit(h.start + s, h.end + s, h.payload) for s, _, found in windows for h in found]
    procedure = procedure or infer_procedure(all_hits)
    findings: list[Finding] = []
    for start, end, found in windows:
        if any(h.payload[0] in _TERM_KINDS for h in found):
            for finding in context.analyse(tokens[start:end], found, lex, procedure):
                finding.clause += start  # sentences of different windows stay apart
                findings.append(finding)
    return all_hits, findings, procedure


def lexicon_only(text: str, procedure: str | None = None, day: int | None = None) -> TriageResult:
    """classify() by the lexicon alone: what the plans lint proves a plan's warning signs
    against (recognised, and explained by a phrase or rule, not by the learned model)."""
    return classify(text, procedure, day, second_opinion=False)


def _windows(tokens: list[str]) -> list[tuple[int, int]]:
    """Spans of at most WINDOW_TOKENS tokens, cut after a sentence end when one is in
    the second half of the span (a clause is never read across two windows then)."""
    spans = []
    start = 0
    while start < len(tokens):
        end = min(start + WINDOW_TOKENS, len(tokens))
        if end < len(tokens):
            half = start + WINDOW_TOKENS // 2
            cut = max((i for i in range(half, end) if tokens[i] == BOUNDARY), default=None)
            end = cut + 1 if cut is not None else end
        spans.append((start, end))
        start = end
    return spans


def _level(
    finding: Finding, term: TermClass, procedure: str | None, day: int | None, size: int
) -> int:
    """Severity this finding contributes (0: none); size is the reply's word count."""
    if finding.status in (context.NEGATED, context.HYPOTHETICAL):
        return 0
    if term.max_words is not None and size > term.max_words:
        return 0
    level = _expected_level(term, procedure, day)
    if level != NORMAL and term.by_procedure and procedure:
        level = term.by_procedure.get(procedure, level)
    if level == NORMAL and term.severity >= CONCERN and (finding.severe or finding.worse):
        level = CONCERN
    if term.mild is not None and finding.mild and not finding.severe:
        level = min(level, term.mild)
    if finding.status == context.RESOLVED:
        # A red flag that has passed still needs a clinician (a breathing problem that
        # came and went may come back); by default a call back; anything milder is history.
        if level == URGENT:
            return term.resolved if term.resolved is not None else CONCERN
        # a class that cannot pass ("came back") keeps its own level
        return term.resolved if term.resolved is not None and level >= CONCERN else NORMAL
    if finding.status == context.OTHER_PERSON:
        # Someone else's symptom: a carer may be writing about the patient, and a
        # person reading it costs less than a missed one; only what would be normal
        # for the patient is dropped ("my daughter has a cold" is still read today).
        return level if level >= CONCERN else 0
    return level


def _expected_level(term: TermClass, procedure: str | None, day: int | None) -> int:
    last_day = term.expected.get(procedure or "", term.expected.get("default"))
    if last_day is None:
        return term.severity
    if day is None or day <= last_day:
        return NORMAL  # expected healing; an unknown day is taken as the early weeks
    return term.after


def _explained_away(findings: list[Finding], levels: list[int], lex: Lexicon) -> list[int]:
    """Drop a finding whose class yields to another class found in the same sentence
    ("purple" next to "bruise" is the bruise's colour, not a dusky lip); a negated one
    explains nothing ("no bruise, but my lip is purple")."""
    classes = lex.classes
    if not any(classes[f.term_class].unless for f in findings):
        return levels
    return [
        0
        if any(
            g.clause == f.clause
            and g.status != context.NEGATED
            and g.term_class in classes[f.term_class].unless
            for g in findings
        )
        else level
        for f, level in zip(findings, levels, strict=True)
    ]


def _combo_level(findings: list[Finding], combos: tuple[Combo, ...]) -> int:
    # Someone else's signs count too: every combination is a red flag, and a red flag
    # reported by a carer is urgent (see _level).
    present = {
        f.term_class for f in findings if f.status in (context.PRESENT, context.OTHER_PERSON)
    }
    return max((c.severity for c in combos if c.classes <= present), default=0)


def _label(
    level: int, intent: str | None, checkin: int | None, findings: list[Finding], lex: Lexicon
) -> str:
    if level == URGENT:
        return "urgent"
    if intent == "stop" or (intent and level < CONCERN):
        return intent
    if checkin is not None:
        level = max(level, lex.checkin_labels.get(checkin, 0))
    if level:
        return _NAMES[level]
    if any(f.status in _REASSURING for f in findings):
        return "normal"  # "no fever, no pus": a reassuring report
    return "other"


def _matches(
    findings: list[Finding], levels: list[int], intent: str | None, checkin: int | None
) -> list[str]:
    shown = []
    for finding, level in zip(findings, levels, strict=True):
        if finding.rule and not level:
            continue  # a combination that did not count explains nothing
        note = "" if finding.status == context.PRESENT else f" ({finding.status})"
        phrase = f"{finding.term_class}: {finding.phrase}" if finding.rule else finding.phrase
        shown.append(f"{phrase}{note}" if level or note else phrase)
    if intent:
        shown.append(f"keyword: {intent}")
    if checkin is not None:
        shown.append(f"check-in: {checkin}")
    return shown
