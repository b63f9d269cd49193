"""The triage lexicon files, pattern matching, typo correction and the CLI command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.triage import LexiconError, classify, load_lexicon
from service.triage.lexicon import DEFAULT_DIR
from service.triage.patterns import PhraseIndex, expand
from service.triage.text import strip_quoted, tokenise
from service.triage.typos import TypoCorrector, real_words


def copy_lexicon(tmp_path: Path) -> Path:
    target = tmp_path / "triage"
    shutil.copytree(DEFAULT_DIR, target)
    return target


def test_it_loads_the_lexicon_once_and_names_its_version() -> None:
    assert load_lexicon() is load_lexicon()
    assert classify("fever").lexicon_version == "terms v29, concepts v24, context v23"


def test_a_clinic_can_add_a_term(tmp_path: Path) -> None:
    directory = copy_lexicon(tmp_path)
    terms = directory / "terms.yaml"
    added = terms.read_text().replace("      - chills\n", "      - chills\n      - zumbido\n")
    terms.write_text(added)
    assert classify("zumbido", lexicon=load_lexicon(directory)).label == "concern"
    assert classify("zumbido").label == "other"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("      - chills\n", "      - (chills|(shivers))\n", "nested"),
        ("    severity: urgent\n", "    severity: critical\n", "unknown severity"),
        ("      - chills\n", "      - yes\n", "quote it"),
        ("version: 29\n", "", "version"),
        ("  - class: chest_pain\n", "  - class: chest_ache\n", "needs a known class"),
        ("    unless: [bruising, bruise_growing]\n", "    unless: [bruises]\n", "unknown classes"),
    ],
)
def test_a_broken_term_file_is_refused_with_a_clear_message(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    directory = copy_lexicon(tmp_path)
    terms = directory / "terms.yaml"
    terms.write_text(terms.read_text().replace(old, new, 1))
    with pytest.raises(LexiconError, match=message):
        load_lexicon(directory)


def test_patterns_expand_alternatives_gaps_and_prefixes() -> None:
    assert expand("(a|b c) d*") == [("a", "d*"), ("b", "c", "d*")]
    index = PhraseIndex()
    index.add("(cant|cannot) .. breath*", ("term", "breathing"))
    index.add("see $", ("term", "end"))
    hits = index.find(tokenise("i cannot really breathe, i see"))
    assert sorted((h.start, h.end, h.payload[1]) for h in hits) == [
        (1, 4, "breathing"),
        (6, 7, "end"),
    ]
    assert index.find(tokenise("cant. breathe")) == []  # a gap never crosses a clause


def test_typos_are_corrected_only_to_nearby_lexicon_words() -> None:
    known = real_words()
    typos = TypoCorrector(
        ["swollen", "vision", "bruis*", "fever", "seeping", "cant"],
        aliases={"couldnt": "cant"},
        known=lambda: known,
    )
    assert typos.correct("swolen") == "swollen"
    assert typos.correct("vission") == "vision"
    assert typos.correct("brusing") == "bruising"
    assert typos.correct("never") == "never"  # a real word, and another first letter
    assert typos.correct("paid") == "paid"  # too short to guess
    assert typos.correct("sleeping") == "sleeping"  # a real word, one edit from "seeping"
    assert typos.correct("couldnt") == "cant"  # an alias
    assert TypoCorrector(["stars"], aliases={}, known=lambda: known).correct("stays") == "stays"


def test_a_word_spelt_by_sound_is_the_lexicon_word_it_sounds_like() -> None:
    known = real_words()
    words = ["blood", "throat", "tight", "hinchazon", "izquierdo", "recibir", "volver", "bien",
             "habla", "antibiotic*"]  # fmt: skip
    typos = TypoCorrector(words, aliases={}, known=lambda: known)
    spelt = {"blud": "blood", "throte": "throat", "tite": "tight", "ynchazon": "hinchazon",
             "iskierdo": "izquierdo", "resivir": "recibir", "bolver": "volver", "vien": "bien",
             "abla": "habla", "antibiotiks": "antibiotics"}  # fmt: skip
    assert {word: typos.correct(word) for word in spelt} == spelt
    assert typos.correct("blue") == "blue"  # a real word is never "corrected"
    assert typos.correct("bla") == "bla"  # too short to say what it sounds like


def test_a_short_word_with_a_letter_typed_twice_is_the_lexicon_word() -> None:
    known = real_words()
    typos = TypoCorrector(["leg", "hot", "to", "fel"], aliases={}, known=lambda: known)
    assert typos.correct("legg") == "leg"
    assert typos.correct("hott") == "hot"
    assert typos.correct("too") == "too"  # a real word: never "corrected"
    assert typos.correct("feel") == "feel"
    assert typos.correct("bro") == "bro"  # no doubled letter


def test_the_dictionaries_know_english_and_spanish_words_without_accents() -> None:
    known = real_words()
    assert {"sleeping", "stays", "hinchazon", "entumecimiento", "pantorrilla"} <= known
    assert not {"swolen", "vission", "bleading"} & known


def test_quoted_history_is_dropped_before_triage() -> None:
    text = "fine thanks\nOn Mon, 2 Mar 2026 at 09:00, Clinic\n<c@x.example> wrote:\n> fever"
    assert strip_quoted(text) == "fine thanks"


def test_the_cli_prints_the_label_and_json() -> None:
    runner = CliRunner()
    plain = runner.invoke(app, ["triage", "help my face is drooping"])
    assert plain.exit_code == 0 and plain.output.startswith("urgent")
    result = runner.invoke(
        app, ["triage", "still numb", "--procedure", "surgery", "--day", "200", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["label"] == "concern"


def test_the_cli_names_a_bad_procedure() -> None:
    result = CliRunner().invoke(app, ["triage", "x", "--procedure", "nose"])
    assert result.exit_code == 2
    assert "--procedure" in result.output
