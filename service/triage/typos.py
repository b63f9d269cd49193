"""Typo correction for words that are not in the lexicon ("swolen", "vission").

A symmetric-delete index (one edit: deletion, insertion, substitution or swap of
neighbours) is built once from the lexicon's words; each unknown reply word is
looked up once and the answer cached, so there is no per-call fuzzy scan.
"""

from __future__ import annotations

from collections.abc import Iterable

MIN_LENGTH = 5  # shorter words have too many real-word neighbours ("paid" ~ "pain")
MIN_SWAP_LENGTH = 7  # a changed or swapped letter only from this length ("bleading")
_SUFFIXES = ("", "s", "es", "ed", "ing", "ness")
_CACHE_LIMIT = 100_000


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _within_one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        swap = len(diff) == 2 and diff[1] == diff[0] + 1
        return swap and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


class TypoCorrector:
    """Maps a misspelt word to the lexicon word one edit away (same first letter)."""

    def __init__(self, words: Iterable[str], *, protected: Iterable[str]) -> None:
        words_list = list(words)
        self.vocabulary: set[str] = set()
        derived: set[str] = set()  # forms of "word*" roots, not words of any list
        for word in words_list:
            if word.endswith("*"):
                root = word[:-1]
                derived.update(root + s for s in _SUFFIXES if len(root) >= 4)
            elif word.isalpha():
                self.vocabulary.add(word)
        self._derived = frozenset(derived - self.vocabulary)
        # A word a "root*" pattern already matches is not a typo ("infection", "infect*").
        self._roots = tuple(sorted({w[:-1] for w in words_list if w.endswith("*")}))
        self.vocabulary |= derived
        self.protected = frozenset(protected) | self.vocabulary
        self._by_delete: dict[str, set[str]] = {}
        for word in self.vocabulary:
            if len(word) >= MIN_LENGTH - 1:
                for key in _deletes(word) | {word}:
                    self._by_delete.setdefault(key, set()).add(word)
        self._cache: dict[str, str] = {}

    def correct_all(self, tokens: list[str]) -> list[str]:
        """correct() for each token (the cached path inlined: it runs per reply)."""
        cache = self._cache
        return [cache.get(t) or self.correct(t) for t in tokens]

    def correct(self, token: str) -> str:
        """The lexicon word meant by token, or token itself."""
        cached = self._cache.get(token)
        if cached is None:
            cached = self._lookup(token)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[token] = cached
        return cached

    def _lookup(self, token: str) -> str:
        if len(token) < MIN_LENGTH or token in self.protected or not token.isalpha():
            return token
        if token.startswith(self._roots):
            return token
        found: set[str] = set()
        for key in _deletes(token) | {token}:
            found.update(self._by_delete.get(key, ()))
        # Words of the lists first, then derived forms; alphabetical for determinism.
        matches = sorted(
            (w for w in found if self._plausible(w, token)), key=lambda w: (w in self._derived, w)
        )
        return matches[0] if matches else token

    def _plausible(self, word: str, token: str) -> bool:
        if word[0] != token[0] or word == token or not _within_one_edit(word, token):
            return False
        if len(word) == len(token) and len(token) < MIN_SWAP_LENGTH:
            return False  # "stays" ~ "stars": a changed letter in a short word is a new word
        # A derived form only absorbs a dropped or doubled letter ("brusing"): a changed
        # letter is too often another real word ("crushed" is not "crusted").
        return word not in self._derived or len(word) != len(token)
