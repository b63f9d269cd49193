"""The safety-net reply fits the procedure: it names the plan's warning signs, and a
sign the plan routes to the emergency number gets "call it now", never "wait for us"."""

from __future__ import annotations

import pytest

from service.config import DEFAULT_TEMPLATES_DIR
from service.domain import Channel
from service.plans.lint_checks import sample_context
from service.rendering import Renderer
from service.safety_net import load_book, parse_book, reply_context
from service.triage import classify

BOOK = load_book(DEFAULT_TEMPLATES_DIR)
RENDERER = Renderer(DEFAULT_TEMPLATES_DIR)


def reply(plan: str | None, text: str, language: str = "en") -> tuple[dict[str, str], str]:
    result = classify(text, procedure=plan)
    assert result.label == "urgent", (text, result)
    values = reply_context(BOOK, plan_key=plan, matches=result.matches, language=language)
    sms = RENDERER.render_system(
        name="urgent_safety_net",
        channel=Channel.SMS,
        language=language,
        context=sample_context(language, **values),
    )
    return values, sms.text


@pytest.mark.parametrize(
    ("plan", "text", "route", "sign"),
    [
        ("botox", "I can't breathe", "emergency", "trouble breathing or swallowing"),
        (
            "botox",
            "it's hard to swallow and my throat feels tight",
            "emergency",
            "trouble breathing",
        ),
        ("botox", "my eyelid is drooping and I see double", "clinic_now", "a drooping eyelid"),
        (
            "dermal_filler",
            "my vision is blurry after filler",
            "emergency",
            "any change in your vision",
        ),
        ("dermal_filler", "the skin turned white and cold", "clinic_now", "skin turning pale"),
        ("surgery", "bleeding a lot and won't stop", "emergency", "heavy bleeding"),
        ("surgery", "chest pain", "emergency", "chest pain"),
        ("surgery", "pus and fever", "clinic_now", "pus or fever"),
        ("botox", "I feel faint", "emergency", "fainting"),  # the general route applies
        (None, "help my face is drooping on one side", "emergency", "a drooping face"),
    ],
)
def test_the_reported_sign_decides_the_route(plan, text, route, sign) -> None:
    values, sms = reply(plan, text)
    assert values["route"] == route and sign in values["reported_sign"]
    assert "911" in sms and "+15550100100" in sms
    if route == "emergency":
        assert "call 911 now" in sms and "someone will call" not in sms
    if route == "clinic_now":
        assert "call us now on +15550100100" in sms


@pytest.mark.parametrize(
    ("plan", "named"),
    [
        ("botox", ["trouble breathing or swallowing"]),
        ("dermal_filler", ["any change in your vision"]),
        ("surgery", ["heavy bleeding", "trouble breathing", "chest pain"]),
    ],
)
def test_a_reply_names_the_emergency_signs_of_the_procedure(plan, named) -> None:
    values, sms = reply(plan, "pus and fever")
    for phrase in named:
        assert phrase in values["emergency_signs"] and phrase in sms


def test_filler_skin_colour_is_named_as_a_call_us_now_sign() -> None:
    values = reply_context(BOOK, plan_key="dermal_filler", matches=[], language="en")
    assert values["route"] == "team" and "skin turning pale" in values["clinic_now_signs"]


def test_spanish_reports_get_a_spanish_route() -> None:
    values, sms = reply("botox", "no puedo respirar", language="es")
    assert values["route"] == "emergency"
    assert sms.startswith("Riverside Aesthetics: por dificultad para respirar o tragar, llame ya")


def test_a_book_must_route_every_sign_it_names() -> None:
    data = {
        "signs": {"a": {"match": ["x"], "en": "x"}},
        "plans": {"_default": {"emergency": ["a", "ghost"]}},
    }
    with pytest.raises(ValueError, match="unknown sign"):
        parse_book(data)
