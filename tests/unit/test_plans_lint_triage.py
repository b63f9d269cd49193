"""`lint_triage`: a patient repeating a plan's warning sign must be triaged at least as
urgently as the sign's route says; the phrases are the sign's own words."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from service.config import DEFAULT_TEMPLATES_DIR
from service.plans.catalog import load_catalog
from service.plans.lint_triage import (
    check_days,
    lint_triage,
    patient_phrases,
    sign_parts,
    triage_checks,
)
from service.plans.model import Plan
from service.plans.red_flags import parse_red_flags
from service.triage import TriageResult

FLAGS = """\
- key: breathing
  route: emergency
  en: {text: "Trouble breathing", sms: "trouble breathing", terms: [breathing]}
  es: {text: "Dificultad para respirar", sms: "ahogo", terms: [respirar]}
- key: elephant
  route: tell_us
  en: {text: "A tame elephant on the sofa", sms: "an elephant", terms: [elephant]}
  es: {text: "Un elefante manso en el sofá", sms: "un elefante", terms: [elefante]}
"""


def tiny_plan(flags: str = FLAGS, languages: tuple[str, ...] = ("en", "es")) -> Plan:
    errors: list[tuple[str | None, str]] = []
    items = parse_red_flags(yaml.safe_load(flags), languages, errors)
    assert errors == []
    return Plan(key="demo", version=1, title="Demo", procedure="demo", languages=languages,
                steps=(), templates={}, sha256="", red_flag_items=items)  # fmt: skip


def fake_triage(labels: dict[str, str], default: str = "urgent") -> Any:
    """A classifier that answers from a table and records what it was asked."""
    calls: list[tuple[str, str | None, int | None]] = []

    def classify(text: str, procedure: str | None = None, day: int | None = None) -> TriageResult:
        calls.append((text, procedure, day))
        return TriageResult(label=labels.get(text, default))

    classify.calls = calls  # type: ignore[attr-defined]
    return classify


@pytest.mark.parametrize(
    ("text", "language", "parts"),
    [
        (
            "Trouble breathing, swallowing or speaking",
            "en",
            ["trouble breathing, swallowing or speaking", "trouble breathing",
             "trouble swallowing", "trouble speaking"],
        ),
        (
            "Pain, swelling, warmth or redness in one calf or leg (a possible blood clot)",
            "en",
            ["pain, swelling, warmth or redness in one calf or leg", "pain in one calf or leg",
             "swelling in one calf or leg", "warmth in one calf or leg",
             "redness in one calf or leg"],
        ),
        (
            "Bleeding that soaks the dressing, or does not stop after 10 minutes",
            "en",
            ["bleeding that soaks the dressing, or does not stop after 10 minutes",
             "bleeding that soaks the dressing", "bleeding that does not stop after 10 minutes"],
        ),
        (
            "Signs of infection: growing redness, heat, pus or a fever",
            "en",
            ["signs of infection: growing redness, heat, pus or a fever", "signs of infection",
             "growing redness", "heat", "pus", "a fever"],
        ),
        (
            "A fever of 38 C (100.4 F) or higher, or chills",
            "en",
            ["a fever of 38 c or higher, or chills", "a fever of 38 c or higher", "chills",
             "a fever of 100.4 f or higher, or chills", "a fever of 100.4 f or higher"],
        ),
        (
            "Any change in your vision (blurring or shadows), or eye pain. Call the emergency "
            "number first, then us",
            "en",
            ["any change in your vision, or eye pain", "any change in your vision", "eye pain"],
        ),
        ("Cold sores in or near the area", "en", ["cold sores in or near the area"]),
        ("Double or blurred vision", "en",
         ["double or blurred vision", "double vision", "blurred vision"]),
        (
            "Blisters, open sores or a rash that flares up",
            "en",
            ["blisters, open sores or a rash that flares up", "blisters", "open sores",
             "a rash that flares up"],
        ),
        (
            "Pus with redness, pain or a fever, or yellow crusts",
            "en",
            ["pus with redness, pain or a fever, or yellow crusts", "pus with redness",
             "pus with pain", "pus with a fever", "yellow crusts"],
        ),
        (
            "Weakness of the face, a drooping mouth or eyelid, or trouble closing an eye",
            "en",
            ["weakness of the face, a drooping mouth or eyelid, or trouble closing an eye",
             "weakness of the face", "a drooping mouth", "a drooping eyelid",
             "trouble closing an eye"],
        ),
        (
            "Piel que se pone pálida o blanca, azulada o morada, o con manchas como un encaje",
            "es",
            ["piel que se pone pálida o blanca, azulada o morada, o con manchas como un encaje",
             "piel que se pone pálida", "piel que se pone blanca", "piel que se pone azulada",
             "piel que se pone morada", "piel con manchas como un encaje"],
        ),
        (
            "Dolor fuerte o que sigue aumentando en la zona tratada o cerca",
            "es",
            ["dolor fuerte o que sigue aumentando en la zona tratada o cerca", "dolor fuerte",
             "dolor que sigue aumentando en la zona tratada o cerca"],
        ),
        (
            "Entumecimiento o pérdida de sensibilidad en la zona tratada, u hormigueo que no se va",
            "es",
            ["entumecimiento o pérdida de sensibilidad en la zona tratada, u hormigueo que no "
             "se va", "entumecimiento en la zona tratada",
             "pérdida de sensibilidad en la zona tratada", "hormigueo que no se va"],
        ),
        (
            "Hinchazón de la lengua o la garganta, o ronchas o dificultad para respirar",
            "es",
            ["hinchazón de la lengua o la garganta, o ronchas o dificultad para respirar",
             "hinchazón de la lengua", "hinchazón de la garganta", "ronchas",
             "dificultad para respirar"],
        ),
        ("Fiebre de 38 C (100.4 F) o más", "es",
         ["fiebre de 38 c o más", "fiebre de 100.4 f o más"]),
    ],
)  # fmt: skip
def test_it_reads_the_whole_sign_and_each_alternative_with_its_shared_words(
    text: str, language: str, parts: list[str]
) -> None:
    assert sign_parts(text, language) == parts


def test_the_patient_says_i_have_in_each_language() -> None:
    plan = tiny_plan()
    assert patient_phrases(plan.red_flag_items[0], "en") == ["i have trouble breathing"]
    assert patient_phrases(plan.red_flag_items[0], "es") == ["tengo dificultad para respirar"]


def test_a_sign_lasting_a_week_or_more_is_checked_on_day_10_instead_of_day_7() -> None:
    assert check_days("i have redness that spreads") == (1, 7)
    assert check_days("i have redness lasting more than a week") == (1, 10)
    assert check_days("tengo rojez que dura más de una semana") == (1, 10)


def test_each_phrase_is_classified_with_the_plan_as_procedure_on_each_day() -> None:
    classify = fake_triage({})
    assert lint_triage([tiny_plan()], classify) == []
    assert ("i have trouble breathing", "demo", 1) in classify.calls
    assert ("tengo un elefante manso en el sofá", "demo", 7) in classify.calls
    assert len(classify.calls) == 8  # 2 signs x 2 languages x 2 days


def test_a_sign_triaged_below_its_route_fails_naming_plan_language_sign_phrase_and_label() -> None:
    classify = fake_triage({"i have trouble breathing": "concern"})
    [finding] = lint_triage([tiny_plan()], classify)
    assert (finding.severity, finding.plan, finding.language) == ("error", "demo", "en")
    assert finding.message == (
        "triage: sign 'breathing': a patient writing 'i have trouble breathing' gets 'concern' "
        "on day 1, 'concern' on day 7; the sign needs at least 'urgent'"
    )


def test_a_tell_us_sign_needs_concern_and_urgent_is_more_than_enough() -> None:
    classify = fake_triage({"i have a tame elephant on the sofa": "urgent",
                            "tengo un elefante manso en el sofá": "normal"})  # fmt: skip
    [finding] = lint_triage([tiny_plan()], classify)
    assert finding.language == "es" and "needs at least 'concern'" in finding.message


@pytest.mark.parametrize("label", ["normal", "other", "stop", "start", "help"])
def test_a_label_that_asks_nobody_to_read_the_reply_fails_a_tell_us_sign(label: str) -> None:
    classify = fake_triage({"i have a tame elephant on the sofa": label})
    [finding] = lint_triage([tiny_plan()], classify)
    assert f"gets {label!r} on day 1" in finding.message


def test_a_language_the_linter_cannot_phrase_is_an_error_not_a_silent_pass() -> None:
    flags = FLAGS.replace("es: {", "fr: {").replace("ahogo", "essoufflement")
    findings = lint_triage([tiny_plan(flags, ("en", "fr"))], fake_triage({}))
    assert [(f.language, f.message.split(":")[0]) for f in findings] == [
        ("fr", "no 'I have' form for 'fr'")
    ]


def test_a_sign_that_is_only_a_note_is_an_error_not_a_silent_pass() -> None:
    flags = FLAGS.replace('"A tame elephant on the sofa"', '"(see the leaflet)"')
    [finding] = lint_triage([tiny_plan(flags)], fake_triage({}))
    assert (finding.language, finding.message) == (
        "en",
        "triage: sign 'elephant' has no words a patient could repeat",
    )


def test_with_the_real_triage_a_sign_nobody_would_recognise_fails_the_lint() -> None:
    findings = lint_triage([tiny_plan()])
    assert {f.language for f in findings} == {"en", "es"}
    assert all("sign 'elephant'" in f.message for f in findings)
    assert any("'i have a tame elephant on the sofa' gets 'other'" in f.message
               for f in findings)  # fmt: skip


def test_every_shipped_sign_gives_phrases_in_every_language() -> None:
    plans = load_catalog(DEFAULT_TEMPLATES_DIR)
    checks = triage_checks(plans, fake_triage({}))
    for plan in plans:
        for lang in plan.languages:
            for item in plan.red_flag_items:
                phrases = patient_phrases(item, lang)
                assert phrases and all(p == p.lower() and "(" not in p for p in phrases)
                assert {c.phrase for c in checks if (c.plan, c.language, c.item) ==
                        (plan.key, lang, item.key)} == set(phrases)  # fmt: skip
