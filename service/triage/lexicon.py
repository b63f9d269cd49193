"""The triage lexicon: term classes and context rules loaded from templates/triage/.

Loaded once per directory and cached; everything is compiled into one PhraseIndex so a
reply is scanned a single time.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from service.triage.concepts import CONCEPT, RuleError, Rules, load_rules
from service.triage.patterns import PhraseIndex, expand
from service.triage.typos import TypoCorrector

# "none": a phrase that looks like a symptom but is not one ("red wine", "blurry photo").
SEVERITY = {"none": 0, "normal": 1, "concern": 2, "urgent": 3}
# libyaml's safe loader when PyYAML was built with it (10x faster), else the Python one.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "templates" / "triage"
# Context rules: YAML section/key -> payload kind in the index.
_CONTEXT_KEYS = {
    ("negation", "pre"): "neg",
    ("negation", "post"): "negpost",
    ("negation", "pseudo"): "negpseudo",
    ("hypothetical", "pre"): "hyp",
    ("hypothetical", "pseudo"): "hyppseudo",
    ("hypothetical", "affirm"): "hypaffirm",
    ("resolution", "post"): "res",
    ("resolution", "pre"): "respre",
    ("other_person", "owners"): "owner",
    ("other_person", "reporters"): "reporter",
    ("other_person", "carers"): "carer",
    ("intensity", "severe"): "severe",
    ("intensity", "mild"): "mild",
    ("intensity", "worsening"): "worse",
    ("keywords", "stop_phrases"): "stop",
    ("keywords", "start_phrases"): "start",
    ("keywords", "help_phrases"): "help",
}


class LexiconError(ValueError):
    """A term file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class TermClass:
    name: str
    severity: int
    expected: Mapping[str, int]  # procedure (or "default") -> last day it is expected
    after: int  # severity once past the expected day
    mild: int | None  # severity when qualified as mild ("lips a bit swollen")
    max_words: int | None = None  # counts only in replies this short ("ok")
    unless: frozenset[str] = frozenset()  # classes that explain it away in its sentence
    by_procedure: Mapping[str, int] | None = None  # severity for these procedures
    resolved: int | None = None  # severity once passed ("couldn't breathe, fine now")
    hides_concepts: bool = False  # its words are not concepts ("cold sore": not cold)


@dataclass(frozen=True)
class Combo:
    name: str
    classes: frozenset[str]
    severity: int


@dataclass(frozen=True)
class Lexicon:
    version: str
    index: PhraseIndex
    classes: Mapping[str, TermClass]
    combos: tuple[Combo, ...]
    terminators: frozenset[str]
    self_words: frozenset[str]  # "i", "my", "me": the patient speaking of themself
    pairs: tuple[str, ...]  # class of each pair (service/triage/pairs.py), by index
    negation_window: int
    scope_breakers: frozenset[str]  # "and": ends a negation's scope, not a hypothetical's
    intensity_window: int
    keywords: Mapping[str, frozenset[str]]  # stop/start/help/filler
    checkin_labels: Mapping[int, int]
    checkin_not_after: frozenset[str]
    durations: Mapping[str, frozenset[str]]
    duration_units: Mapping[str, str]  # word -> unit ("meses" -> "month")
    emoji: Mapping[str, str]
    typos: TypoCorrector
    rules: Rules
    keyword_words: frozenset[str]  # every stop/start/help word, for keyword typos
    hiding: frozenset[str]  # classes whose words are not concepts (hides_concepts)


@functools.lru_cache(maxsize=8)
def load_lexicon(directory: Path = DEFAULT_DIR) -> Lexicon:
    """Read terms.yaml, concepts.yaml and context.yaml from directory (cached)."""
    terms = _read(directory / "terms.yaml")
    context = _read(directory / "context.yaml")
    concepts = _read(directory / "concepts.yaml")
    index = PhraseIndex()
    classes = _load_classes(terms, index)
    try:
        rules = load_rules(concepts, set(classes))
    except RuleError as exc:
        raise LexiconError(str(exc)) from exc
    for name, patterns in concepts["concepts"].items():
        for pattern in patterns:
            _add(index, pattern, (CONCEPT, name), f"concepts.yaml concept {name}")
    _load_context(context, index)
    for procedure, patterns in context.get("procedures", {}).items():
        for pattern in patterns:
            index.add(pattern, ("procedure", procedure))
    keywords = {k: _words(context["keywords"][k], k) for k in ("stop", "start", "help", "filler")}
    # Typos are corrected towards symptom, keyword and opt-out/in/help phrase words
    # only: a near miss of a context word ("stays" ~ "says") must not change a reply's
    # meaning; "stop sneding these" must still opt out.
    intents = (f"{kind}_phrases" for kind in ("stop", "start", "help"))
    vocabulary = [
        *_term_words(terms),
        *_pattern_words(p for ps in concepts["concepts"].values() for p in ps),
        *(w for words in keywords.values() for w in words),
        *_pattern_words(p for kind in intents for p in context["keywords"][kind]),
    ]
    return Lexicon(
        version=(
            f"terms v{terms['version']}, concepts v{concepts['version']}, "
            f"context v{context['version']}"
        ),
        index=index,
        classes=classes,
        combos=tuple(_combo(c, classes) for c in terms.get("combos", [])),
        terminators=frozenset(context["terminators"]),
        self_words=frozenset(
            a for p in context["other_person"]["self"] for atoms in expand(p) for a in atoms
        ),
        pairs=_load_pairs(terms, classes, index),
        negation_window=int(context["negation"]["window"]),
        scope_breakers=frozenset(context["negation"].get("scope_breakers") or ()),
        intensity_window=int(context["intensity"]["window"]),
        keywords=keywords,
        checkin_labels={
            int(k): _severity(v, "checkin") for k, v in context["checkin"]["labels"].items()
        },
        checkin_not_after=frozenset(context["checkin"]["not_after"]),
        durations={unit: frozenset(words) for unit, words in context["durations"].items()},
        duration_units={w: unit for unit, words in context["durations"].items() for w in words},
        emoji=dict(context.get("emoji", {})),
        typos=TypoCorrector(vocabulary, aliases=context.get("aliases") or {}),
        rules=rules,
        keyword_words=frozenset().union(*(keywords[k] for k in ("stop", "start", "help"))),
        hiding=frozenset(name for name, c in classes.items() if c.hides_concepts),
    )


def _term_words(terms: dict[str, Any]) -> set[str]:
    patterns = [p for spec in terms["classes"].values() for p in spec.get("terms") or []]
    patterns += [p for spec in terms.get("pairs") or [] for side in "ab" for p in spec[side]]
    return _pattern_words(patterns)


def _pattern_words(patterns: Iterable[object]) -> set[str]:
    return {
        atom
        for pattern in patterns
        if isinstance(pattern, str)
        for atoms in expand(pattern)
        for atom in atoms
    }


def _load_pairs(
    terms: dict[str, Any], classes: Mapping[str, TermClass], index: PhraseIndex
) -> tuple[str, ...]:
    names = []
    for number, spec in enumerate(terms.get("pairs") or []):
        where = f"terms.yaml pair {number + 1} ({spec.get('class')})"
        if spec.get("class") not in classes or not spec.get("a") or not spec.get("b"):
            raise LexiconError(f"{where}: needs a known class and both lists a and b")
        for side, kind in (("a", "pair_a"), ("b", "pair_b")):
            for pattern in spec[side]:
                _add(index, pattern, (kind, str(number)), where)
        names.append(spec["class"])
    return tuple(names)


def _read(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506 (a safe loader)
    if not isinstance(data, dict) or "version" not in data:
        raise LexiconError(f"{path}: expected a mapping with a 'version' field")
    return data


def _words(values: list[object], where: str) -> frozenset[str]:
    if not all(isinstance(v, str) for v in values):
        raise LexiconError(f"context.yaml keywords.{where}: quote yes/no/on/off")
    return frozenset(str(v) for v in values)


def _severity(value: str, where: str) -> int:
    if value not in SEVERITY:
        raise LexiconError(f"{where}: unknown severity {value!r} (use {', '.join(SEVERITY)})")
    return SEVERITY[value]


def _load_classes(terms: dict[str, Any], index: PhraseIndex) -> dict[str, TermClass]:
    classes: dict[str, TermClass] = {}
    for name, spec in terms["classes"].items():
        where = f"terms.yaml class {name}"
        severity = _severity(spec.get("severity", ""), where)
        classes[name] = TermClass(
            name=name,
            severity=severity,
            expected={str(k): int(v) for k, v in (spec.get("expected") or {}).items()},
            after=_severity(spec["after"], where) if "after" in spec else severity,
            mild=_severity(spec["mild"], where) if "mild" in spec else None,
            max_words=int(spec["max_words"]) if "max_words" in spec else None,
            unless=frozenset(spec.get("unless") or ()),
            by_procedure={
                str(k): _severity(v, where) for k, v in (spec.get("by_procedure") or {}).items()
            }
            or None,
            resolved=_severity(spec["resolved"], where) if "resolved" in spec else None,
            hides_concepts=bool(spec.get("hides_concepts", severity == 0)),
        )
        for pattern in spec.get("terms") or []:
            _add(index, pattern, ("term", name), where)
    for term in classes.values():
        unknown = sorted(term.unless - classes.keys())
        if unknown:
            raise LexiconError(f"terms.yaml class {term.name}: unknown classes in unless {unknown}")
    return classes


def _load_context(context: dict[str, Any], index: PhraseIndex) -> None:
    for (section, key), kind in _CONTEXT_KEYS.items():
        for pattern in context.get(section, {}).get(key) or []:
            _add(index, pattern, (kind,), f"context.yaml {section}.{key}")


def _add(index: PhraseIndex, pattern: object, payload: tuple[str, ...], where: str) -> None:
    if not isinstance(pattern, str):  # YAML reads a bare yes/no/on/off as a boolean
        raise LexiconError(f"{where}: {pattern!r} is not text; quote it")
    try:
        index.add(pattern, payload)
    except ValueError as exc:
        raise LexiconError(f"{where}: {exc}") from exc


def _combo(spec: dict[str, Any], classes: Mapping[str, TermClass]) -> Combo:
    unknown = [c for c in spec["all"] if c not in classes]
    if unknown:
        raise LexiconError(f"terms.yaml combo {spec['name']}: unknown classes {unknown}")
    severity = _severity(spec["severity"], f"terms.yaml combo {spec['name']}")
    return Combo(name=spec["name"], classes=frozenset(spec["all"]), severity=severity)
