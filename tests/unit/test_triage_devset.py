"""The labelled dev set (tests/data/triage_devset.jsonl): per-label precision and recall.

The table goes into every assertion message and into
test-artifacts/triage_devset_report.txt, so it is visible without `-s`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from service.triage import LABELS, PROCEDURES, classify

DEVSET = Path(__file__).resolve().parents[1] / "data" / "triage_devset.jsonl"
REPORT = Path(__file__).resolve().parents[2] / "test-artifacts" / "triage_devset_report.txt"


def load_devset() -> list[dict]:
    return load_rows(DEVSET)


def load_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def evaluate(rows: list[dict], report: Path) -> dict:
    """Classify every row; the per-label table and each miss go to report."""
    predicted = [classify(r["text"], procedure=r.get("procedure"), day=r.get("day")) for r in rows]
    pairs = [(r["label"], p.label) for r, p in zip(rows, predicted, strict=True)]
    table, scores = _table(pairs)
    misses = [
        f"  expected {gold:8} got {p.label:8} {r['text'][:70]!r} {p.matches}"
        for r, p, (gold, _) in zip(rows, predicted, pairs, strict=True)
        if gold != p.label
    ]
    text = "\n".join([table, f"errors: {len(misses)} of {len(rows)}", *misses])
    report.parent.mkdir(exist_ok=True)
    report.write_text(text + "\n", encoding="utf-8")
    return {"rows": rows, "scores": scores, "report": text}


@pytest.fixture(scope="module")
def outcome() -> dict:
    return evaluate(load_devset(), REPORT)


def _table(pairs: list[tuple[str, str]]) -> tuple[str, dict[str, tuple[float, float, float]]]:
    gold = Counter(g for g, _ in pairs)
    said = Counter(p for _, p in pairs)
    right = Counter(g for g, p in pairs if g == p)
    lines = [f"{'label':8} {'n':>4} {'precision':>9} {'recall':>7} {'f1':>6}"]
    scores = {}
    for label in LABELS:
        precision = right[label] / said[label] if said[label] else 1.0
        recall = right[label] / gold[label] if gold[label] else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = (precision, recall, f1)
        lines.append(f"{label:8} {gold[label]:4} {precision:9.3f} {recall:7.3f} {f1:6.3f}")
    macro = sum(f for _, _, f in scores.values()) / len(LABELS)
    lines.append(f"macro-F1 {macro:.3f}  accuracy {sum(right.values()) / len(pairs):.3f}")
    return "\n".join(lines), scores


def test_the_dev_set_is_large_varied_and_well_formed() -> None:
    rows = load_devset()
    assert len(rows) >= 300
    assert {r["label"] for r in rows} == set(LABELS)
    assert all(r.get("why") for r in rows), "every reply carries a one-line rationale"
    assert all(r.get("procedure") in (None, *PROCEDURES) for r in rows)
    assert sum("wrote:" in r["text"] or "\n>" in r["text"] for r in rows) >= 5  # email quotes
    assert sum(not r["text"].isascii() for r in rows) >= 30  # Spanish and emoji


def test_it_finds_every_urgent_reply(outcome: dict) -> None:
    _, recall, _ = outcome["scores"]["urgent"]
    assert recall == 1.0, outcome["report"]


def test_it_raises_few_false_alarms(outcome: dict) -> None:
    precision, _, _ = outcome["scores"]["urgent"]
    assert precision >= 0.9, outcome["report"]


def test_it_reaches_a_macro_f1_of_at_least_0_9(outcome: dict) -> None:
    macro = sum(f for _, _, f in outcome["scores"].values()) / len(LABELS)
    assert macro >= 0.9, outcome["report"]
