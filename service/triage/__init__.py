"""Triage of patient replies (DESIGN §6, contract): pure, no I/O beyond reading the
term files in templates/triage/ once.

    from service.triage import classify
    result = classify(text, procedure="thread_lift", day=12)
    result.label    # urgent, concern, normal, stop, start, help or other
    result.matches  # the phrases behind it, for the staff view
"""

from service.triage import compiled

compiled.activate(__path__)  # the mypyc build of the hot modules, when current

from service.triage.classifier import (  # noqa: E402
    LABELS,
    PROCEDURES,
    TriageResult,
    classify,
    lexicon_only,
)
from service.triage.lexicon import Lexicon, LexiconError, load_lexicon  # noqa: E402

__all__ = [
    "LABELS",
    "PROCEDURES",
    "Lexicon",
    "LexiconError",
    "TriageResult",
    "classify",
    "lexicon_only",
    "load_lexicon",
]
