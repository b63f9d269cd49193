"""Rendering: strict, sandboxed, escaped where it must be, plain for SMS."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from service.config import DEFAULT_TEMPLATES_DIR
from service.domain import Channel
from service.plans.catalog import load_catalog
from service.plans.model import Plan
from service.rendering import Renderer, RenderError, message_context, paragraphs

PROCEDURE_AT = datetime(2026, 3, 5, 10, 0, tzinfo=ZoneInfo("Europe/Madrid"))


def context(language: str = "en", name: str = "Alexandra", **extra: object) -> dict[str, object]:
    return message_context(
        patient_first_name=name,
        clinic_name="Riverside Aesthetics",
        clinic_phone="+15550100100",
        emergency_phone="911",
        procedure_at_local=PROCEDURE_AT,
        language=language,
        extra=extra,
    )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(DEFAULT_TEMPLATES_DIR)


@pytest.fixture(scope="module")
def surgery() -> Plan:
    return load_catalog(DEFAULT_TEMPLATES_DIR).get("surgery")


def with_template(plan: Plan, name: str, source: str) -> Plan:
    templates = {**plan.templates, name: source}
    return dataclasses.replace(plan, templates=templates, sha256=f"test-{hash(source)}")


def test_a_patient_name_with_html_is_escaped_in_the_email_html(renderer, surgery) -> None:
    name = '<script>alert("x")</script>&Co'
    out = renderer.render_step(
        plan=surgery, step_key="day0_expect", channel=Channel.EMAIL, language="en",
        context=context(name=name),
    )  # fmt: skip
    assert out.html is not None
    assert "<script>" not in out.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;Co" in out.html
    assert name in out.text  # the plain-text part is not HTML: no entities there


def test_an_email_has_subject_text_and_html_parts(renderer, surgery) -> None:
    out = renderer.render_step(
        plan=surgery, step_key="day0_expect", channel=Channel.EMAIL, language="es",
        context=context("es"),
    )  # fmt: skip
    assert out.subject == "Sus cuidados después de la cirugía: qué esperar los primeros días"
    assert out.text.startswith("Hola Alexandra,")
    assert "5 de marzo" in out.text
    assert "<li>Fiebre de 38 C (100.4 F) o más, o escalofríos</li>" in (out.html or "")
    assert out.segments is None


def test_sms_text_is_normalised_after_rendering(renderer, surgery) -> None:
    out = renderer.render_step(
        plan=surgery, step_key="day2_checkin", channel=Channel.SMS, language="en",
        context=context(name="Zoe \u201cZ\u201d\u00a0O\u2019Neil"),
    )  # fmt: skip
    assert 'Zoe "Z" O\'Neil' in out.text
    assert out.segments == 2
    assert "Reply 1 if all is well, 2 if something worries you" in out.text


def test_step_vars_reach_the_template(renderer, surgery) -> None:
    out = renderer.render_step(
        plan=surgery, step_key="month6_numbness", channel=Channel.SMS, language="en",
        context=context(),
    )  # fmt: skip
    assert out.text.startswith("Riverside Aesthetics: 6 months on")


def test_an_unknown_language_falls_back_to_english(renderer, surgery) -> None:
    out = renderer.render_step(
        plan=surgery, step_key="day1_care", channel=Channel.SMS, language="fr",
        context=context("fr"),
    )  # fmt: skip
    assert out.text.startswith("Riverside Aesthetics: Day 1:")


def test_an_undefined_variable_is_an_error_naming_template_and_line(renderer, surgery) -> None:
    plan = with_template(surgery, "surgery/day1_care.sms.en.j2", "Hi\n{{ patient_nickname }}")
    with pytest.raises(RenderError) as info:
        renderer.render_step(
            plan=plan, step_key="day1_care", channel=Channel.SMS, language="en",
            context=context(),
        )  # fmt: skip
    assert (info.value.template, info.value.line) == ("surgery/day1_care.sms.en.j2", 2)
    assert "patient_nickname" in str(info.value)


def test_the_sandbox_refuses_unsafe_attribute_access(renderer, surgery) -> None:
    source = "{{ clinic_name.__class__.__mro__[1].__subclasses__() }}"
    plan = with_template(surgery, "surgery/day1_care.sms.en.j2", source)
    with pytest.raises(RenderError, match="unsafe"):
        renderer.render_step(
            plan=plan, step_key="day1_care", channel=Channel.SMS, language="en",
            context=context(),
        )  # fmt: skip


def test_a_plan_renders_from_its_own_template_copy_not_the_disk(renderer, surgery) -> None:
    plan = with_template(
        surgery, "surgery/day1_care.sms.en.j2", "Pinned text {{ emergency_phone }}"
    )
    out = renderer.render_step(
        plan=plan, step_key="day1_care", channel=Channel.SMS, language="en", context=context()
    )
    assert out.text == "Pinned text 911"


def test_the_catch_up_system_message_renders_in_both_languages(renderer) -> None:
    extra = {"procedure": "thread lift", "red_flags": ["Pus"], "red_flags_summary": "pus",
             "coming_count": 2, "next_date": "March 9"}  # fmt: skip
    sms = renderer.render_system(
        name="catch_up", channel=Channel.SMS, language="en", context=context(**extra)
    )
    assert "thread lift" in sms.text and "Reply STOP to opt out, HELP for help." in sms.text
    assert "Next message: March 9." in sms.text
    email = renderer.render_system(
        name="catch_up", channel=Channel.EMAIL, language="es", context=context("es", **extra)
    )
    assert email.subject == "Sus mensajes de seguimiento de Riverside Aesthetics"
    assert "- Pus" in email.text and "911" in email.text


def test_a_system_message_in_a_missing_language_falls_back_to_english(renderer) -> None:
    out = renderer.render_system(
        name="catch_up", channel=Channel.SMS, language="de",
        context=context("de", procedure="botox", red_flags=[], red_flags_summary="",
                        coming_count=0, next_date=""),
    )  # fmt: skip
    assert "Reply STOP" in out.text


def test_message_context_formats_the_procedure_date_per_language() -> None:
    assert context("en")["procedure_date"] == "March 5"
    assert context("es")["procedure_date"] == "5 de marzo"
    assert context("en")["procedure_time"] == "10:00"


def test_paragraphs_turn_dash_lines_into_bullets() -> None:
    assert paragraphs("Hello,\nthere\n\nSigns:\n- one\n- two\n\nBye") == [
        {"lines": ["Hello,", "there"]},
        {"lines": ["Signs:"]},
        {"bullets": ["one", "two"]},
        {"lines": ["Bye"]},
    ]


def test_day_or_night_is_said_only_for_a_clinic_with_a_24_hour_line(renderer, surgery) -> None:
    def email(**extra: object) -> str:
        return renderer.render_step(
            plan=surgery, step_key="day1_care", channel=Channel.EMAIL, language="en",
            context=context(**extra),
        ).text  # fmt: skip

    assert "day or night" not in email()
    assert "day or night" in email(clinic_24h=True)


def test_the_sms_summary_gives_each_sign_its_route(renderer) -> None:

    botox = load_catalog(DEFAULT_TEMPLATES_DIR).get("botox")
    text = renderer.render_step(
        plan=botox, step_key="red_flag_reminder", channel=Channel.SMS, language="en",
        context=context(),
    ).text  # fmt: skip
    assert "Call 911 now for trouble breathing, swallowing or speaking" in text
    assert "Call us today for a drooping eyelid or brow." in text
    assert "Call us for" not in text


def test_the_cached_sms_summary_is_per_clinic_number_and_language(renderer) -> None:
    botox = load_catalog(DEFAULT_TEMPLATES_DIR).get("botox")

    def reminder(language: str, phone: str) -> str:
        values = {**context(language), "clinic_phone": phone}
        return renderer.render_step(
            plan=botox, step_key="red_flag_reminder", channel=Channel.SMS, language=language,
            context=values,
        ).text  # fmt: skip

    assert "(415) 555-0100" in reminder("en", "(415) 555-0100")
    assert "(212) 555-0199" in reminder("en", "(212) 555-0199")
    assert "Llamenos ya al (212) 555-0199" in reminder("es", "(212) 555-0199")


def test_a_text_only_step_sent_by_email_wraps_its_sms_words_in_an_email(renderer) -> None:
    from service.config import DEFAULT_TEMPLATES_DIR
    from service.plans.catalog import load_catalog

    plan = load_catalog(DEFAULT_TEMPLATES_DIR).get("botox")
    for language, greeting in (("en", "Hi Alexandra"), ("es", "Hola, Alexandra")):
        sms = renderer.render_step(plan=plan, step_key="red_flag_reminder", channel=Channel.SMS,
                                   language=language, context=context(language))  # fmt: skip
        email = renderer.render_step(plan=plan, step_key="red_flag_reminder",
                                     channel=Channel.EMAIL, language=language,
                                     context=context(language))  # fmt: skip
        assert email.subject and "Riverside Aesthetics" in email.subject
        assert email.text.startswith(greeting)
        assert plan.red_flags[language].items[0] in email.text  # the full list, not the summary
        assert email.html is not None and "<li>" in email.html
        assert sms.text.split(":")[0] in email.text
