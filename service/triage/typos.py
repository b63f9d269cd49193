"""Typo correction for words that are not in the lexicon ("swolen", "vission", "blud").

Two maintained libraries do the work: rapidfuzz finds the lexicon words one edit
away (OSA distance: a deletion, insertion, substitution or swap of neighbours), and
pyspellchecker's English and Spanish word frequencies say which reply words are real
words, which are never "corrected" ("sleeping" is not a typo of "seeping"). A word with
no lexicon word one edit away is matched by how it sounds (`sound_key`), for writers who
spell by ear. Each unknown reply word is looked up once and the answer cached.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping

from rapidfuzz import process
from rapidfuzz.distance import OSA
from spellchecker import SpellChecker

MIN_LENGTH = 5  # shorter words have too many real-word neighbours ("paid" ~ "pain")
MIN_SWAP_LENGTH = 7  # a changed or swapped letter only from this length ("bleading")
# A word seen this often in the dictionaries' corpora is a real word, not a typo; rarer
# entries are mostly the corpora's own misspellings.
REAL_WORD_COUNT = 50
_SUFFIXES = ("", "s", "es", "ed", "ing", "ness")
_CACHE_LIMIT = 100_000
_HELD_LETTER = re.compile(r"(.)\1{2,}")  # three or more of one letter in a row


# Spelling by sound ("blud", "throte", "ynchado", "iskierdo"; a real word spelt so, such as
# "serrar", is an alias in context.yaml instead): words that sound alike get one key.
# Ordered: "igh" before "h" goes, "qu" before "c".
_SOUNDS = (
    (re.compile(r"igh"), "i"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"wh"), "w"),
    (re.compile(r"ck|qu|c(?![eiyh])|k"), "k"),
    (re.compile(r"c(?=[eiy])|z"), "s"),
    (re.compile(r"v"), "b"),
    (re.compile(r"ll"), "y"),
    (re.compile(r"(?<![cstpg])h"), ""),
    (re.compile(r"^y(?=[^aeiou])"), "i"),
    (re.compile(r"oo|ou|ue$"), "u"),
    (re.compile(r"ea|ee"), "e"),
    (re.compile(r"oa"), "o"),
    (re.compile(r"ing$"), "in"),
    (re.compile(r"(?<=[a-z]{3})e$"), ""),
    (re.compile(r"(.)\1+"), r"\1"),
)
MIN_SOUND_KEY = 3  # keys shorter than this stand for too many words
MIN_SOUND_WORD = 4  # a shorter reply word is not guessed by its sound ("bla")


def sound_key(word: str) -> str:
    """What a word sounds like, roughly, in English or Spanish spelling."""
    for pattern, replacement in _SOUNDS:
        word = pattern.sub(replacement, word)
    return word


def real_words(languages: Iterable[str] = ("en", "es")) -> frozenset[str]:
    """Words of the dictionaries, folded as replies are (lower case, no accents)."""
    frequency = SpellChecker(language=list(languages), distance=1).word_frequency
    return frozenset(
        _fold(word)
        for word, count in frequency.dictionary.items()
        if count >= REAL_WORD_COUNT and word.isalpha()
    )


def _fold(word: str) -> str:
    if word.isascii():
        return word
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()


class TypoCorrector:
    """Maps a misspelt word to the lexicon word one edit away (same first letter)."""

    def __init__(
        self,
        words: Iterable[str],
        *,
        aliases: Mapping[str, str],
        known: Callable[[], frozenset[str]] = lambda: real_words(),
    ) -> None:
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
        self._choices = sorted(w for w in self.vocabulary if len(w) >= MIN_LENGTH)
        # Sound keys: the lists' own words first, then derived forms; alphabetical.
        self._sounds: dict[str, str] = {}
        for word in sorted(self.vocabulary, key=lambda w: (w in self._derived, w)):
            key = sound_key(word)
            if len(key) >= MIN_SOUND_KEY:
                self._sounds.setdefault(key, word)
        self.protected = frozenset(self.vocabulary)
        self._known_source = known
        self._known: frozenset[str] | None = None
        # Words that mean a lexicon word ("couldnt" is "cant" for every phrase).
        self._cache: dict[str, str] = dict(aliases)

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

    @property
    def known(self) -> frozenset[str]:
        """The real words, read on first need: a process that triages no unknown word
        (most CLI commands) never pays the ~0.7 s of reading the dictionaries."""
        if self._known is None:
            self._known = self._known_source()
        return self._known

    def keyword(self, word: str, keywords: frozenset[str]) -> str:
        """The carrier keyword a short word misspells ("stpo", "unsubscibe"), or word.

        Keywords are short, so one edit is allowed from four letters, but only for a
        word that is not a real word ("step" is not "stop"); a letter held down
        ("stoppp", "heeelp") counts as one edit."""
        word = _HELD_LETTER.sub(r"\1\1", word)
        if word in keywords or len(word) < 4 or not word.isalpha() or word in self.known:
            return word
        found = process.extractOne(word, keywords, scorer=OSA.distance, score_cutoff=1)
        return found[0] if found is not None and found[0][0] == word[0] else word

    def _lookup(self, token: str) -> str:
        if token in self.protected or not token.isalpha():
            return token
        if len(token) <= MIN_LENGTH:  # "numbb": a short word typed with a letter twice
            undoubled = self._undoubled(token)
            if undoubled != token:
                return undoubled
            if len(token) < MIN_LENGTH:
                return self._sounded(token)
        if token.startswith(self._roots) or token in self.known:
            return token
        near = process.extract(
            token, self._choices, scorer=OSA.distance, score_cutoff=1, limit=None
        )
        # Words of the lists first, then derived forms; alphabetical for determinism.
        matches = sorted(
            (w for w, _, _ in near if self._plausible(w, token)),
            key=lambda w: (w in self._derived, w),
        )
        return matches[0] if matches else self._sounded(token)

    def _sounded(self, token: str) -> str:
        """The list word that sounds like token ("blud" is "blood"), unless token is a
        real word itself."""
        if len(token) < MIN_SOUND_WORD or token in self.known:
            return token
        return self._sounds.get(sound_key(token), token)

    def _undoubled(self, token: str) -> str:
        """A short word with one letter typed twice ("legg", "hott"): the lexicon's word
        without it, unless the token is a real word itself ("too", "feel")."""
        for i in range(1, len(token)):
            if token[i] == token[i - 1]:
                single = token[:i] + token[i + 1 :]
                if single in self.vocabulary and token not in self.known:
                    return single
        return token

    def _plausible(self, word: str, token: str) -> bool:
        if word[0] != token[0] or word == token:
            return False
        if len(word) == len(token) and len(token) < MIN_SWAP_LENGTH:
            return False  # "stays" ~ "stars": a changed letter in a short word is a new word
        # A derived form only absorbs a dropped or doubled letter ("brusing"): a changed
        # letter is too often another real word ("crushed" is not "crusted").
        return word not in self._derived or len(word) != len(token)
