"""The learned second opinion (service/triage/second_opinion.py): it only ever sends a
reply to a person, and says so in `matches`."""

from __future__ import annotations

from pathlib import Path

from service.triage import classify, lexicon_only
from service.triage.classifier import SECOND_OPINION
from service.triage.second_opinion import load_model, probability
from tests.unit.test_triage_devset import load_rows

DATA = Path(__file__).resolve().parents[1] / "data"


def test_a_sign_in_words_the_lexicon_lacks_reaches_a_person_with_the_reason() -> None:
    text = "since yesterday my mouth goes sideways when i talk to people"
    assert lexicon_only(text, "surgery", 3).label == "other"
    result = classify(text, "surgery", 3)
    assert result.label == "concern"
    assert result.matches[-1].startswith(f"{SECOND_OPINION}: 0.")


def test_it_never_lowers_a_label_and_never_makes_one_urgent() -> None:
    rows = load_rows(DATA / "triage_devset.jsonl")
    rows += [row for path in sorted(DATA.glob("triage_fresh_*.jsonl")) for row in load_rows(path)]
    raised = 0
    for row in rows:
        args = (row["text"], row.get("procedure"), row.get("day"))
        alone, both = lexicon_only(*args).label, classify(*args).label
        assert both == alone or (alone in ("normal", "other") and both == "concern"), row
        raised += both != alone
    assert 0 < raised < 0.05 * len(rows)


def test_it_leaves_short_replies_keywords_and_plain_reassurance_alone() -> None:
    assert classify("ok thanks 👍").label == "other"
    assert classify("STOP").label == "stop"
    assert classify("no fever no pus just itchy", "surgery", 5).label == "normal"
    assert classify("will my lips be swollen for the wedding?", "dermal_filler", 1).label == (
        "other"
    )


def test_it_reads_a_reply_whose_context_the_lexicon_may_have_misread() -> None:
    # the lexicon reads "smoothed out" as the dent having passed (a "hasn't" it does not
    # weigh); the model still sends the reply to a person
    text = "deep dent in my cheek that hasn't smoothed out"
    alone = lexicon_only(text, "thread_lift", 18)
    assert alone.label in ("normal", "other")
    assert any("(resolved)" in match for match in alone.matches)
    result = classify(text, "thread_lift", 18)
    assert result.label == "concern"
    assert result.matches[-1].startswith(f"{SECOND_OPINION}: ")


def test_the_shipped_model_loads_with_a_strict_threshold() -> None:
    model = load_model()
    assert 0.5 < model.threshold < 1
    assert len(model.char) > 1000 and len(model.word) > 1000
    assert 0 <= probability("thank you so much, see you next week") < model.threshold
