"""The held-out set (tests/data/triage_holdout.jsonl): same targets as the dev set.

Written before its author read the term lists, in voices the dev set has few of
(terse SMS, elderly formal, anxious long messages, carers, Spanglish, pain scores,
temperatures). Its first-run score is in BENCHMARKS.md; the report of the current
run goes to test-artifacts/triage_holdout_report.txt.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.triage import LABELS, PROCEDURES
from tests.unit.test_triage_devset import evaluate, load_rows

DATA = Path(__file__).resolve().parents[1] / "data"
# Batch a: 306 replies; b: 104 more, written after the first round of fixes; c: 100
# after the second; d: 96 after the third; e: 88 after the fourth; f: 71 after the fifth,
# mostly replies that mention a red flag without having one;
# g: 70 after the sixth; h: 69 after the seventh; i: 59 after the eighth; j: 51 after
# the ninth.
PARTS = ("", "_b", "_c", "_d", "_e", "_f", "_g", "_h", "_i", "_j")
HOLDOUT = tuple(DATA / f"triage_holdout{part}.jsonl" for part in PARTS)
REPORT = Path(__file__).resolve().parents[2] / "test-artifacts" / "triage_holdout_report.txt"


@pytest.fixture(scope="module")
def outcome() -> dict:
    return evaluate(load_holdout(), REPORT)


def load_holdout() -> list[dict]:
    return [row for path in HOLDOUT for row in load_rows(path)]


def test_the_holdout_set_is_large_varied_and_well_formed() -> None:
    rows = load_holdout()
    assert len(rows) >= 1000
    assert {r["label"] for r in rows} == set(LABELS)
    assert all(r.get("why") for r in rows), "every reply carries a one-line rationale"
    assert all(r.get("procedure") in (None, *PROCEDURES) for r in rows)
    assert sum("wrote:" in r["text"] or "Original Message" in r["text"] for r in rows) >= 3
    assert sum(not r["text"].isascii() for r in rows) >= 10  # Spanish accents and emoji
    assert sum(r["label"] == "urgent" for r in rows) >= 100


def test_it_finds_every_urgent_reply_of_the_holdout_set(outcome: dict) -> None:
    _, recall, _ = outcome["scores"]["urgent"]
    assert recall == 1.0, outcome["report"]


def test_it_raises_few_false_alarms_on_the_holdout_set(outcome: dict) -> None:
    precision, _, _ = outcome["scores"]["urgent"]
    assert precision >= 0.9, outcome["report"]


def test_it_reaches_a_macro_f1_of_at_least_0_9_on_the_holdout_set(outcome: dict) -> None:
    macro = sum(f for _, _, f in outcome["scores"].values()) / len(LABELS)
    assert macro >= 0.9, outcome["report"]
