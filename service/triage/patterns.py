"""Compiled phrase patterns (see templates/triage/terms.yaml for the syntax).

Every pattern is expanded at load time into flat sequences of atoms and indexed by
its first atom, so matching a reply costs one dictionary look-up per token plus a
short walk for the few candidates that start there.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import NamedTuple

from service.triage.text import BOUNDARY, COMMA

Payload = tuple  # ("term", class[, "rule"|"pair", parts]) or (context kind,)
GAP = ".."
END = "$"
MAX_GAP = 3
_GROUP = re.compile(r"\([^)]*\)|\S+")
_BOUNDARIES = frozenset({BOUNDARY, COMMA})
# A gap never skips a negation: "lips not white" is not "lips .. white".
_NOT_SKIPPED = _BOUNDARIES | {
    "no",
    "not",
    "never",
    "isnt",
    "arent",
    "wasnt",
    "werent",
    "dont",
    "doesnt",
    "didnt",
    "without",
    "nor",
    "neither",
    "nunca",
    "sin",
}


class Hit(NamedTuple):  # a tuple: cheap to build by the thousand
    start: int
    end: int  # exclusive
    payload: Payload


_new = tuple.__new__


def expand(pattern: str) -> list[tuple[str, ...]]:
    """All flat atom sequences a pattern stands for: "(a|b c) d*" -> (a, d*), (b, c, d*)."""
    options: list[list[list[str]]] = []
    for group in _GROUP.findall(pattern):
        if group.startswith("("):
            if "(" in group[1:] or not group.endswith(")"):
                raise ValueError(f"nested or unclosed parentheses in {pattern!r}")
            alternatives = group[1:-1].split("|")
            options.append([alt.split() for alt in alternatives])
        else:
            options.append([[group]])
    return [tuple(a for part in combo for a in part) for combo in itertools.product(*options)]


class _Node:
    """A trie node: sequences sharing a start are walked once."""

    __slots__ = ("end", "gap", "literal", "literal_only", "payloads", "prefixed")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.prefixed: dict[str, _Node] = {}
        self.gap: _Node | None = None
        self.end: _Node | None = None
        self.payloads: list[Payload] = []
        self.literal_only = True  # no prefix, gap or end child: a plain dictionary step

    def child(self, atom: str) -> _Node:
        if atom == GAP:
            self.gap = self.gap or _Node()
            self.literal_only = False
            return self.gap
        if atom == END:
            self.end = self.end or _Node()
            self.literal_only = False
            return self.end
        if atom.endswith("*"):
            self.literal_only = False
        table = self.prefixed if atom.endswith("*") else self.literal
        key = atom.rstrip("*")
        if key not in table:
            table[key] = _Node()
        return table[key]

    def is_leaf(self) -> bool:
        return not (self.literal or self.prefixed or self.gap or self.end)

    def next_nodes(self, token: str) -> list[_Node]:
        if not self.prefixed:  # most nodes: one dictionary look-up
            found = self.literal.get(token)
            return [found] if found is not None else []
        found_all = [self.literal[token]] if token in self.literal else []
        if token not in _BOUNDARIES:
            found_all.extend(node for key, node in self.prefixed.items() if token.startswith(key))
        return found_all


class PhraseIndex:
    """Many patterns, each with a payload, matched in one pass over the tokens."""

    def __init__(self) -> None:
        self._root = _Node()
        self._words: set[str] = set()
        # token -> (payloads of one-word patterns it completes, nodes to walk on from),
        # cached: a reply's words are mostly the same few thousand
        self._first: dict[str, tuple[tuple[Payload, ...], tuple[_Node, ...]]] = {}

    def add(self, pattern: str, payload: Payload) -> None:
        for atoms in expand(pattern):
            if not atoms or atoms[0] in (GAP, END):
                raise ValueError(f"pattern {pattern!r} must start with a word")
            node = self._root
            for atom in atoms:
                node = node.child(atom)
            node.payloads.append(payload)
            self._words.update(a for a in atoms if a not in (GAP, END))
        self._first.clear()

    def words(self) -> Iterable[str]:
        """Every word atom used, for the typo vocabulary."""
        return iter(self._words)

    def find(self, tokens: list[str]) -> list[Hit]:
        """Every match, the longest one for each start and payload."""
        ends: dict[tuple[int, Payload], int] = {}
        for start, token in enumerate(tokens):
            first = self._first.get(token)
            if first is None:
                first = self._first_step(token)
            done, onward = first
            for payload in done:  # a one-word match: nothing longer starts on this path
                ends.setdefault((start, payload), start + 1)
            for node in onward:
                if node.literal_only and not node.payloads:
                    # most phrases fail on their second word: test it before walking
                    if start + 1 == len(tokens):
                        continue
                    child = node.literal.get(tokens[start + 1])
                    if child is not None:
                        _walk(child, tokens, start + 2, start, ends)
                else:
                    _walk(node, tokens, start + 1, start, ends)
        # tuple.__new__ skips the named tuple's Python-level __new__: ~30% of this line
        return [_new(Hit, (start, end, payload)) for (start, payload), end in ends.items()]

    def _first_step(self, token: str) -> tuple[tuple[Payload, ...], tuple[_Node, ...]]:
        nodes = self._root.next_nodes(token)
        leaves = [n for n in nodes if n.is_leaf()]
        step = (
            tuple(p for n in leaves for p in n.payloads),
            tuple(n for n in nodes if not n.is_leaf()),
        )
        if len(self._first) < 50_000:
            self._first[token] = step
        return step


def _walk(node: _Node, tokens: list[str], j: int, start: int, ends: dict) -> None:
    # The hot loop of triage: plain local look-ups, no helper calls. A chain of nodes
    # with literal children only (most of the trie) is followed in a loop.
    while True:
        for payload in node.payloads:
            key = (start, payload)
            if ends.get(key, -1) < j:
                ends[key] = j
        if not node.literal_only:
            break
        child = node.literal.get(tokens[j]) if j < len(tokens) else None
        if child is None:
            return
        node, j = child, j + 1
    if j < len(tokens):
        token = tokens[j]
        child = node.literal.get(token)
        if child is not None:
            _walk(child, tokens, j + 1, start, ends)
        if node.prefixed and token not in _BOUNDARIES:
            for prefix, child in node.prefixed.items():
                if token.startswith(prefix):
                    _walk(child, tokens, j + 1, start, ends)
    if node.end is not None and (j == len(tokens) or tokens[j] in _BOUNDARIES):
        _walk(node.end, tokens, j, start, ends)
    if node.gap is not None:
        for skip in range(MAX_GAP + 1):
            if skip and (j + skip - 1 >= len(tokens) or tokens[j + skip - 1] in _NOT_SKIPPED):
                break
            _walk(node.gap, tokens, j + skip, start, ends)
