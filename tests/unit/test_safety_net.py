"""The safety-net reply fits the procedure: it follows the plan's routed warning signs,
names the plan's emergency signs, and a sign routed to the emergency number gets
"call it now", never "wait for us"."""

from __future__ import annotations

import pytest

from service.config import DEFAULT_TEMPLATES_DIR
from service.domain import Channel
from service.plans.catalog import load_catalog
from service.plans.lint_checks import sample_context
from service.rendering import Renderer
from service.safety_net import SignBookError, load_book, parse_book, reply_context
from service.triage import classify

BOOK = load_book(DEFAULT_TEMPLATES_DIR)
CATALOG = load_catalog(DEFAULT_TEMPLATES_DIR)
RENDERER = Renderer(DEFAULT_TEMPLATES_DIR)
PHONE = "+91 1861 123 456 789"  # the lint sample clinic's number, as patients see it


def reply(plan: str | None, text: str, language: str = "en") -> tuple[dict[str, str], str]:
    result = classify(text, procedure=plan)
    assert result.label == "urgent", (text, result)
    values = reply_context(
        BOOK, plan=CATALOG.get(plan) if plan else None, matches=result.matches, language=language
    )
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
        ("botox", "I can't breathe", "emergency", "trouble breathing, swallowing or speaking"),
        ("botox", "double vision since this morning", "clinic_now", "double or blurred vision"),
        ("dermal_filler", "my vision is blurry after filler", "emergency", "any vision change"),
        ("dermal_filler", "the skin turned white and cold", "clinic_now", "skin that turns white"),
        ("surgery", "chest pain", "emergency", "chest pain or shortness of breath"),
        ("surgery", "bleeding a lot and won't stop", "clinic_now", "bleeding that won't stop"),
        # Not one of the plan's signs: the general emergencies apply.
        ("botox", "I feel faint", "emergency", "fainting"),
        ("thread_lift", "I can't breathe", "emergency", "trouble breathing"),
        (None, "help my face is drooping on one side", "emergency", "a drooping face"),
    ],
)
def test_the_reported_sign_takes_the_route_the_plan_gives_it(plan, text, route, sign) -> None:
    values, sms = reply(plan, text)
    assert values["route"] == route and sign in values["reported_sign"]
    assert "911" in sms and PHONE in sms
    if route == "emergency":
        assert "call 911 now. Do not wait for our call." in sms and "will call you" not in sms
    if route == "clinic_now":
        assert f"call us now on {PHONE} (no answer: call 911)" in sms


def test_a_sign_to_tell_us_about_gets_the_team_reply_with_the_emergency_signs() -> None:
    values, sms = reply("surgery", "pus and fever")
    assert values["route"] == "team"
    assert "someone will call you soon" in sms
    assert "Call 911 now for chest pain or shortness of breath." in sms


@pytest.mark.parametrize(
    ("plan", "named"),
    [
        ("botox", ["trouble breathing, swallowing or speaking"]),
        ("dermal_filler", ["any vision change or eye pain"]),
        ("surgery", ["chest pain or shortness of breath"]),
    ],
)
def test_a_reply_names_the_emergency_signs_of_the_procedure(plan, named) -> None:
    values, sms = reply(plan, "pus and fever")
    for phrase in named:
        assert phrase in values["emergency_signs"] and phrase in sms


def test_filler_skin_colour_is_a_call_us_now_sign_in_the_email() -> None:
    values = reply_context(BOOK, plan=CATALOG.get("dermal_filler"), matches=[], language="en")
    email = RENDERER.render_system(
        name="urgent_safety_net",
        channel=Channel.EMAIL,
        language="en",
        context=sample_context("en", **values),
    )
    assert values["route"] == "team" and "skin that turns white" in values["clinic_now_signs"]
    assert "skin that turns white" in email.text and "any vision change" in email.text


def test_spanish_reports_get_a_spanish_route() -> None:
    values, sms = reply("botox", "no puedo respirar", language="es")
    assert values["route"] == "emergency"
    assert "por dificultad para respirar, tragar o hablar, llame ya al 911" in sms


def test_the_general_signs_file_must_be_a_list_with_match_words() -> None:
    with pytest.raises(SignBookError, match="general"):
        parse_book({"signs": {}})
    with pytest.raises(SignBookError, match="match"):
        parse_book({"general": [{"key": "x", "en": "x"}]})
