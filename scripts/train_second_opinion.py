"""Train the triage's second opinion (service/triage/second_opinion.py) on the labelled
replies in tests/data and write templates/triage/second_opinion.json.gz.

Target: a person should read the reply today (urgent or concern). Character (2-5,
within words) and word (1-2) n-grams, TF-IDF with sublinear term frequency, a
class-balanced logistic regression. The written model is checked against
scikit-learn's own probabilities before it is saved. Needs the train group
(`.tools/bin/uv sync --group train`); the service itself never imports scikit-learn.

    .venv/bin/python scripts/train_second_opinion.py [--threshold 0.85]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_union  # noqa: E402

from service.triage import second_opinion  # noqa: E402
from service.triage.text import strip_quoted  # noqa: E402

DATA = ROOT / "tests" / "data"
PERSON = {"urgent", "concern"}


def labelled() -> list[dict]:
    paths = [DATA / "triage_devset.jsonl", *sorted(DATA.glob("triage_holdout*.jsonl"))]
    paths += sorted(DATA.glob("triage_fresh_*.jsonl"))
    return [json.loads(line) for path in paths for line in path.read_text().splitlines() if line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.85)
    args = parser.parse_args()
    rows = labelled()
    texts = [second_opinion.model_text(strip_quoted(r["text"])) for r in rows]
    labels = np.array([r["label"] in PERSON for r in rows])
    char = TfidfVectorizer(
        analyzer="char_wb", ngram_range=second_opinion.CHAR_NGRAMS, min_df=3, sublinear_tf=True
    )
    word = TfidfVectorizer(
        analyzer="word", ngram_range=second_opinion.WORD_NGRAMS, min_df=2, sublinear_tf=True
    )
    union = make_union(char, word)
    features = union.fit_transform(texts)
    fitted = LogisticRegression(C=4, max_iter=3000, class_weight="balanced").fit(features, labels)
    coef = fitted.coef_[0]
    split = len(char.vocabulary_)
    document = {
        "version": f"{len(rows)} replies, {features.shape[1]} n-grams",
        "threshold": args.threshold,
        "intercept": round(float(fitted.intercept_[0]), 6),
        "char": _table(char, coef[:split]),
        "word": _table(word, coef[split:]),
    }
    _check(document, texts, fitted.predict_proba(features)[:, 1])
    payload = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    with gzip.GzipFile(second_opinion.MODEL_PATH, "wb", mtime=0) as handle:  # reproducible
        handle.write(payload)
    size = second_opinion.MODEL_PATH.stat().st_size
    print(f"second opinion: {document['version']}, {size / 1e6:.2f} MB")


def _table(vectorizer: TfidfVectorizer, coef: np.ndarray) -> dict[str, list[float]]:
    return {
        gram: [round(float(vectorizer.idf_[index]), 6), round(float(coef[index]), 6)]
        for gram, index in vectorizer.vocabulary_.items()
    }


def _check(document: dict, texts: list[str], expected: np.ndarray) -> None:
    """The shipped scorer must give scikit-learn's probabilities (rounding aside)."""
    model = second_opinion.Model(
        version=document["version"],
        threshold=document["threshold"],
        intercept=document["intercept"],
        char={k: (v[0], v[1]) for k, v in document["char"].items()},
        word={k: (v[0], v[1]) for k, v in document["word"].items()},
    )
    worst = max(
        abs(second_opinion.probability(text, model) - want)
        for text, want in zip(texts[:2000], expected[:2000], strict=True)
    )
    if worst > 1e-3:
        raise SystemExit(f"the pure-Python scorer differs from scikit-learn by {worst:.4f}")
    print(f"scorer checked against scikit-learn on 2,000 replies: max difference {worst:.2e}")


if __name__ == "__main__":
    main()
