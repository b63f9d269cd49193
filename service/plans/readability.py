"""Reading level of English text: the Flesch-Kincaid grade (a US school grade). Pure.

grade = 0.39 x words per sentence + 11.8 x syllables per word - 15.59. Syllables are
counted by vowel groups, the usual approximation; numbers and phone numbers are left
out (they are read, not parsed as words).
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"[.!?:;]+(?:\s|$)")
_VOWELS = re.compile(r"[aeiouy]+")


def syllables(word: str) -> int:
    word = word.lower()
    count = len(_VOWELS.findall(word))
    if word.endswith("e") and not word.endswith(("le", "ee")) and count > 1:
        count -= 1  # a silent final e: "stone", "make"
    return max(count, 1)


def grade_level(text: str) -> float:
    words = _WORD.findall(text)
    if not words:
        return 0.0
    sentences = max(len(_SENTENCE.findall(text)), 1)
    syllable_count = sum(syllables(w) for w in words)
    return 0.39 * len(words) / sentences + 11.8 * syllable_count / len(words) - 15.59
