"""Concept rules: a warning sign recognised as a combination, however it is worded.

templates/triage/concepts.yaml names concepts (a body site, a finding, a trajectory)
and rules that combine them into a class of terms.yaml: a calf, swollen, after body
surgery is a clot sign whatever the words between them. Concept words are found by
the same one-pass PhraseIndex as every other phrase; this module only joins them.
A joined rule becomes a term hit spanning its concepts, so negation, hypotheticals,
resolution and someone-else context apply to it as to any phrase.

A finding (a change in the body) that no phrase or rule places becomes an
`unplaced_change` term: a person reads what the classifier cannot place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from service.triage.patterns import Hit

CONCEPT = "concept"
RULE = "rule"  # third payload field of a joined term: ("term", class, "rule")
UNPLACED = "unplaced_change"
SCOPES = ("segment", "sentence", "reply")


class RuleError(ValueError):
    """A rule in concepts.yaml is malformed; the message names the rule."""


@dataclass(frozen=True)
class Rule:
    term_class: str
    groups: tuple[frozenset[str], ...]  # each group: concepts of which one is enough
    scope: str
    procedures: frozenset[str] | None  # None: every procedure
    unless: frozenset[str]
    if_unknown: bool = True  # whether a reply with no known procedure matches

    def applies_to(self, procedure: str | None) -> bool:
        # An unknown procedure matches a rule (the safe side) unless the rule only
        # follows one plan's instruction (if_unknown: false).
        if procedure is None:
            return self.if_unknown
        return self.procedures is None or procedure in self.procedures


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]
    findings: frozenset[str]  # concepts that describe a change in the body
    subjects: frozenset[str]  # concepts that name a body part or side (site_*, one side)
    guards: frozenset[str]  # concepts some rule's `unless` names: never masked
    # Which rules a reply completes, as bit sets over `rules` (bit n: rule n), so that
    # a reply costs a few integer operations per concept, not a walk over the rules:
    # by_group[g][concept]: the rules whose group g holds the concept;
    # short[g]: the rules with no group g (nothing to satisfy there);
    # by_procedure[p]: the rules that apply to procedure p (None: unknown).
    by_group: tuple[Mapping[str, int], ...]
    short: tuple[int, ...]
    by_procedure: Mapping[str | None, int]
    any_procedure: int  # the rules for every procedure: a procedure no rule names

    def completed(self, concepts: Iterable[str], procedure: str | None) -> int:
        """The rules (bit set) with a concept of every group present, for procedure."""
        done = self.by_procedure.get(procedure, self.any_procedure)
        for group, short in zip(self.by_group, self.short, strict=True):
            if not done:
                break
            ok = short
            for concept in concepts:
                ok |= group.get(concept, 0)
            done &= ok
        return done


def load_rules(spec: Mapping[str, Any], classes: set[str]) -> Rules:
    """Rules from concepts.yaml; every class and concept they name must exist."""
    concepts = set(spec.get("concepts") or {})
    rules = tuple(_rule(number, r, concepts, classes) for number, r in enumerate(spec["rules"]))
    findings = frozenset(spec.get("findings") or ())
    unknown = sorted(findings - concepts)
    if unknown:
        raise RuleError(f"concepts.yaml findings: unknown concepts {unknown}")
    subjects = frozenset(c for c in concepts if c.startswith("site_") or c == "traj_one_side")
    guards = frozenset().union(*(r.unless for r in rules))
    return Rules(rules, findings, subjects, guards, **_bit_sets(rules))


def _bit_sets(rules: tuple[Rule, ...]) -> dict[str, Any]:
    depth = max(len(r.groups) for r in rules)
    by_group: list[dict[str, int]] = [{} for _ in range(depth)]
    short = [0] * depth
    for number, rule in enumerate(rules):
        for g in range(depth):
            if g >= len(rule.groups):
                short[g] |= 1 << number
                continue
            for concept in rule.groups[g]:
                by_group[g][concept] = by_group[g].get(concept, 0) | 1 << number
    named = {p for r in rules for p in r.procedures or ()}
    by_procedure = {
        p: sum(1 << n for n, r in enumerate(rules) if r.applies_to(p)) for p in [None, *named]
    }
    return {
        "by_group": tuple(by_group),
        "short": tuple(short),
        "by_procedure": by_procedure,
        "any_procedure": sum(1 << n for n, r in enumerate(rules) if r.procedures is None),
    }


def _rule(number: int, spec: Mapping[str, Any], concepts: set[str], classes: set[str]) -> Rule:
    where = f"concepts.yaml rule {number + 1} ({spec.get('class')})"
    if spec.get("class") not in classes:
        raise RuleError(f"{where}: class must be a class of terms.yaml")
    groups = tuple(frozenset([g] if isinstance(g, str) else g) for g in spec.get("all") or [])
    unless = frozenset(spec.get("unless") or ())
    unknown = sorted(set().union(*groups, unless) - concepts) if groups else []
    if not groups or unknown:
        raise RuleError(f"{where}: `all` needs known concepts (unknown: {unknown})")
    scope = spec.get("scope", "sentence")
    if scope not in SCOPES:
        raise RuleError(f"{where}: scope must be one of {', '.join(SCOPES)}")
    procedures = spec.get("procedures")
    return Rule(
        term_class=spec["class"],
        groups=groups,
        scope=scope,
        procedures=frozenset(procedures) if procedures else None,
        unless=unless,
        if_unknown=bool(spec.get("if_unknown", True)),
    )


def join(
    concept_hits: list[Hit],
    rules: Rules,
    units: Mapping[str, list[int]],
    procedure: str | None,
) -> list[Hit]:
    """One term per rule and scope unit where every group of the rule is present.

    units maps a scope name to the unit number of each token (segment, sentence);
    "reply" is one unit. A rule hit spans from its first to its last concept.
    """
    present: dict[str, list[Hit]] = {}
    for hit in concept_hits:
        name = hit.payload[1]
        if name in present:
            present[name].append(hit)
        else:
            present[name] = [hit]
    joined: dict[tuple[str, int], Hit] = {}  # (class, first concept's start)
    candidates = rules.completed(present, procedure)
    while candidates:  # in rule order: the first rule to claim a start names it
        low = candidates & -candidates
        candidates ^= low
        rule = rules.rules[low.bit_length() - 1]
        for hit in _matches(rule, present, units.get(rule.scope)):
            joined.setdefault((rule.term_class, hit.payload[3][0]), hit)
    return list(joined.values())


def _matches(rule: Rule, present: dict[str, list[Hit]], unit_of: list[int] | None) -> Iterator[Hit]:
    """One hit per concept of the first group that completes the rule: each is judged
    on its own ("no fever but pus": the pus counts though the fever is negated)."""
    # A reply holds a few concepts and a group may name many: walk what is present.
    firsts = sorted(h for c, hits in present.items() if c in rule.groups[0] for h in hits)
    for first in firsts:
        unit = unit_of[first.start] if unit_of is not None else 0
        chosen = [first]
        for group in rule.groups[1:]:
            other = _nearest(first, group, present, unit, unit_of, chosen)
            if other is None:
                break
            chosen.append(other)
        else:
            if not rule.unless or not _cancelled(rule, present, unit, unit_of):
                parts = tuple(h.start for h in chosen)
                end = max(h.end for h in chosen)
                yield Hit(min(parts), end, ("term", rule.term_class, RULE, parts))


def _nearest(
    first: Hit,
    group: frozenset[str],
    present: dict[str, list[Hit]],
    unit: int,
    unit_of: list[int] | None,
    chosen: list[Hit],
) -> Hit | None:
    best: Hit | None = None
    for concept, hits in present.items():
        if concept not in group:
            continue
        for hit in hits:
            if unit_of is not None and unit_of[hit.start] != unit:
                continue
            if any(hit.start < c.end and c.start < hit.end for c in chosen):
                continue  # one word playing two parts
            if best is None or (abs(hit.start - first.start), hit.start) < (
                abs(best.start - first.start),
                best.start,
            ):
                best = hit
    return best


def _cancelled(
    rule: Rule, present: dict[str, list[Hit]], unit: int, unit_of: list[int] | None
) -> bool:
    return any(
        unit_of is None or unit_of[h.start] == unit
        for concept in rule.unless
        for h in present.get(concept, ())
    )


def unplaced(concept_hits: list[Hit], findings: frozenset[str], terms: list[Hit]) -> list[Hit]:
    """Findings that no term or rule covers, as `unplaced_change` terms. A rule covers
    only its own concepts, not the words between them: "red and warm at the thread,
    no fever" keeps "warm" when the fever rule it sits inside is negated."""
    candidates = [h for h in concept_hits if h.payload[1] in findings]
    if not candidates:
        return []
    covered: set[int] = set()
    for t in terms:
        covered.update(t.payload[3] if len(t.payload) > 3 else range(t.start, t.end))
    seen: set[tuple[int, int]] = set()
    out = []
    for hit in candidates:
        if (hit.start, hit.end) in seen:
            continue
        if any(i in covered for i in range(hit.start, hit.end)):
            continue
        seen.add((hit.start, hit.end))
        out.append(Hit(hit.start, hit.end, ("term", UNPLACED, RULE)))
    return out
