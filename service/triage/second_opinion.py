"""A learned second opinion that can only send a reply to a person, never away from one.

The lexicon (concepts, rules, context) labels every reply and says why. Written by
people who never saw it, each new batch of replies still finds a few warning signs in
words it lacks, or a context it misreads ("no joke my lip has gone white" read as a
negation; BENCHMARKS.md, Triage). So a reply the lexicon calls `normal` or `other` (not
a keyword, not a check-in answer) is also scored by a logistic regression over
character and word n-grams, trained only on this project's labelled replies (tests/data) by
scripts/train_second_opinion.py and shipped as data (templates/triage/
second_opinion.json.gz: no download, no scikit-learn at run time). When it is confident
a person should read the reply, the label is raised to `concern`, and `matches` says so
with the n-grams that weighed most. It never lowers a label and never makes one urgent.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from service.triage.lexicon import DEFAULT_DIR

# Beside the term lists (lexicon.py is never compiled, so its path is the source tree's).
MODEL_PATH = DEFAULT_DIR / "second_opinion.json.gz"
CHAR_NGRAMS = (2, 5)
WORD_NGRAMS = (1, 2)
MIN_WORDS = 3  # "ok thanks", "👍": nothing for a model to weigh
# It reads the start of a reply, as long as the longest it was trained on: the work per
# reply stays bounded (the lexicon reads a long email whole, window by window).
MAX_CHARS = 2_000
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_WORD = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern


@dataclass(frozen=True)
class Opinion:
    probability: float  # that a person should read the reply today
    reasons: tuple[str, ...]  # the n-grams that weighed most towards it


@dataclass(frozen=True)
class Model:
    version: str
    threshold: float
    intercept: float
    char: dict[str, tuple[float, float]]  # n-gram -> (idf, coefficient)
    word: dict[str, tuple[float, float]]


def model_text(text: str) -> str:
    """What the model reads (as in training): lower case, accents folded, no numbers
    (temperatures and scores are the lexicon's: "tengo 39 años" is an age)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NUMBER.sub(" ", folded.lower())


def _word_char_ngrams(word: str) -> list[str]:
    """scikit-learn's `char_wb` n-grams of one word: within it, padded with spaces."""
    grams: list[str] = []
    low, high = CHAR_NGRAMS
    padded = f" {word} "
    for n in range(low, high + 1):
        grams.extend(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))
        if len(padded) <= n:  # a short word counts once, whole
            break
    return grams


# Per word, the model's known char n-grams of it and their sums as if each occurred once:
# replies repeat their words ("my", "the", "since"), and making, looking up and weighing
# a word's n-grams was most of the scoring.
_WordGrams = tuple[tuple[str, ...], float, float]  # (known n-grams, sum coef*idf, sum idf^2)
_KNOWN: dict[tuple[str, str], _WordGrams] = {}
_KNOWN_MOST = 1 << 16


def _word_known(word: str, model: Model) -> _WordGrams:
    key = (model.version, word)
    known = _KNOWN.get(key)
    if known is None:
        if len(_KNOWN) >= _KNOWN_MOST:
            _KNOWN.clear()
        grams = tuple(g for g in _word_char_ngrams(word) if g in model.char)
        dot = sum(model.char[g][1] * model.char[g][0] for g in grams)
        square = sum(model.char[g][0] ** 2 for g in grams)
        known = (grams, dot, square)
        _KNOWN[key] = known
    return known


def _char_part(text: str, model: Model) -> float:
    """The char n-grams' share of the score: sums per word, then the n-grams that occur
    more than once weighed as the sublinear term frequency says (1 + log count)."""
    grams: list[str] = []
    dot = square = 0.0
    for word in text.split():
        known, word_dot, word_square = _word_known(word, model)
        grams.extend(known)
        dot += word_dot
        square += word_square
    counts = Counter(grams)
    if len(counts) < len(grams):
        for gram, count in counts.items():
            if count > 1:
                idf, coefficient = model.char[gram]
                weight = idf * (1.0 + math.log(count))
                dot += coefficient * (weight - count * idf)
                square += weight * weight - count * idf * idf
    return dot / math.sqrt(square) if square > 0 else 0.0


def word_ngrams(text: str) -> list[str]:
    words = _WORD.findall(text)
    grams = list(words)
    grams.extend(f"{a} {b}" for a, b in itertools.pairwise(words))
    return grams


@functools.cache
def load_model(path: Path = MODEL_PATH) -> Model:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    return Model(
        version=data["version"],
        threshold=data["threshold"],
        intercept=data["intercept"],
        char={k: (v[0], v[1]) for k, v in data["char"].items()},
        word={k: (v[0], v[1]) for k, v in data["word"].items()},
    )


def probability(text: str, model: Model | None = None) -> float:
    """The probability that a person should read this reply (the model's TF-IDF with
    sublinear term frequency and L2 norm per n-gram kind, then the logistic)."""
    model = model or load_model()
    clean = model_text(text)
    score = model.intercept + _char_part(clean, model)
    dot = square = 0.0
    for gram, count in Counter(word_ngrams(clean)).items():
        known = model.word.get(gram)
        if known is not None:
            idf, coefficient = known
            weight = idf if count == 1 else idf * (1.0 + math.log(count))
            dot += coefficient * weight
            square += weight * weight
    if square:
        score += dot / math.sqrt(square)
    return 1.0 / (1.0 + math.exp(-score))


def reasons(text: str, model: Model | None = None, most: int = 3) -> tuple[str, ...]:
    """The known n-grams of the reply that weigh most towards a person (for `matches`)."""
    model = model or load_model()
    clean = model_text(text)
    # Words and word pairs only: a person reads "gulp air", not " gul".
    words = model.word
    weights = [(words[gram][1], gram) for gram in set(word_ngrams(clean)) if gram in words]
    return tuple(gram for weight, gram in sorted(weights, reverse=True)[:most] if weight > 0)


def needs_a_person(text: str) -> Opinion | None:
    """The opinion when it says a person should read the reply; None otherwise."""
    text = text[:MAX_CHARS]
    if len(text.split()) < MIN_WORDS:
        return None
    model = load_model()
    said = probability(text, model)
    return Opinion(said, reasons(text, model)) if said >= model.threshold else None
