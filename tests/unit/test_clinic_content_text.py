"""A clinic's own wording: what a text may contain, the sandbox, and the linter's refusals."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from service.config import DEFAULT_TEMPLATES_DIR
from service.domain import Channel
from service.plans.catalog import load_catalog
from service.plans.lint_overrides import errors_of, lint_overrides
from service.plans.lint_triage_text import lint_route_sentences, urgent_phrases
from service.plans.model import Plan
from service.plans.overrides import (
    OverrideError,
    apply_overrides,
    check_source,
    slot_of,
    slots,
)
from service.rendering import Rendered, Renderer, RenderError, message_context
from service.triage import TriageResult

SMS = "thread_lift/day1_care.sms.en.j2"
EMAIL = "thread_lift/day1_care.email.en.j2"
GOOD_SMS = (
    "{{ clinic_name }}: Day 1: keep a cold pack on for 10 minutes at a time. "
    '{% include "_partials/emergency.sms.en.j2" %}'
)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(DEFAULT_TEMPLATES_DIR)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_catalog(DEFAULT_TEMPLATES_DIR).get("thread_lift")


def context(name: str = "Alex") -> dict[str, object]:
    return message_context(
        patient_first_name=name, clinic_name="Glow Clinic", clinic_phone="+14155550100",
        emergency_phone="911", language="en",
        procedure_at_local=datetime(2026, 3, 5, 10, 0, tzinfo=ZoneInfo("America/New_York")),
    )  # fmt: skip


def render(renderer: Renderer, plan: Plan, template: str, source: str, patient: str = "Alex"):
    slot = next(s for s in slots(plan) if s.name == template)
    effective = apply_overrides(plan, {template: source})
    return renderer.render_step(plan=effective, step_key=slot.step.key, channel=slot.channel,
                                language=slot.language, context=context(patient))  # fmt: skip


def test_every_shipped_text_is_a_text_a_clinic_may_write() -> None:
    for shipped in load_catalog(DEFAULT_TEMPLATES_DIR).all():
        for slot in slots(shipped):
            assert check_source(shipped, slot, shipped.templates[slot.name]) == [], slot.name


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ ''.__class__.__mro__ }}", "'__class__' cannot be read"),
        ("{{ clinic_name.__init__.__globals__ }}", "'__globals__' cannot be read"),
        ("{{ range(10) }}", "calling a function or method is not allowed"),
        ("{{ clinic_name.upper() }}", "calling a function or method is not allowed"),
        ("{{ lipsum() }}", "calling a function or method is not allowed"),
        ("{{ 'x' * 100000 }}", "arithmetic (Mul) is not allowed"),
        ("{% macro m() %}x{% endmacro %}", "a macro is not allowed"),
        ("{% import 'x' as y %}", "import is not allowed"),
        ("{% extends '_partials/clinic.sms.en.j2' %}", "extends is not allowed"),
        ("{% include 'thread_lift/day2_checkin.sms.en.j2' %}", "only the shared parts"),
        ("{{ clinic_name | attr('x') }}", "the filter 'attr' is not allowed"),
        ("{{ red_flags[0] }}", "[...] is not allowed"),
        ("{% block subject %}x{% endblock %}", "a text message has no blocks"),
        ("{{ clinic_nmae }}: hi", "undefined variable(s) {{ clinic_nmae }}"),
        ("{% if clinic_name %}", "line 1: Unexpected end of template"),
        (
            "{% for a in red_flags %}{% for b in red_flags %}{% for c in red_flags %}x"
            "{% endfor %}{% endfor %}{% endfor %}",
            "loops nest at most 2 deep",
        ),
        ("   ", "the text is empty"),
        ("x" * 4001, "at most 4000"),
    ],
)
def test_a_clinic_text_may_not_reach_python_or_run_away(plan, source, problem) -> None:
    slot = slot_of(plan, "day1_care", "sms", "en")
    problems = check_source(plan, slot, source)
    assert any(problem in p for p in problems), problems


def test_an_email_text_needs_its_subject_and_text_blocks(plan) -> None:
    slot = slot_of(plan, "day1_care", "email", "en")
    assert check_source(plan, slot, "Hello {{ patient_first_name }}") == [
        "an email needs the block(s) subject, text ({% block subject %}...)"
    ]


def test_the_sandbox_stops_a_text_that_skipped_the_checks(renderer, plan) -> None:
    with pytest.raises(RenderError, match="unsafe"):
        render(renderer, plan, SMS, "{{ ''.__class__.__mro__[1].__subclasses__() }}")


def test_an_unknown_step_channel_or_language_is_named(plan) -> None:
    with pytest.raises(OverrideError, match=r"^step: "):
        slot_of(plan, "day99", "sms", "en")
    with pytest.raises(OverrideError, match=r"^language: "):
        slot_of(plan, "day1_care", "sms", "fr")
    with pytest.raises(OverrideError, match=r"^channel: "):
        slot_of(plan, "day2_checkin", "email", "en")


def test_the_clinic_text_is_what_the_patient_gets(renderer, plan) -> None:
    out = render(renderer, plan, SMS, GOOD_SMS)
    assert out.text.startswith("Glow Clinic: Day 1: keep a cold pack on")
    assert "911" in out.text


def test_markup_in_an_email_text_is_escaped_in_html_and_plain_in_text(renderer, plan) -> None:
    hello = "Hi {{ patient_first_name }},"
    source = plan.templates[EMAIL].replace(hello, "Hi <b>{{ patient_first_name }}</b>,")
    out = render(renderer, plan, EMAIL, source, patient="<script>x</script>")
    assert out.html is not None and "<b>" not in out.html and "<script>" not in out.html
    assert "&lt;b&gt;&lt;script&gt;x&lt;/script&gt;&lt;/b&gt;" in out.html
    assert "Hi <b><script>x</script></b>," in out.text  # the text part is not HTML


def test_an_sms_text_is_never_html_escaped(renderer, plan) -> None:
    source = "{{ patient_first_name }} & co: " + GOOD_SMS
    out = render(renderer, plan, SMS, source, patient="A<B>&C")
    assert out.text.startswith("A<B>&C & co:")


def test_a_refused_version_names_step_channel_language_and_problem(renderer, plan) -> None:
    no_emergency = "{{ clinic_name }}: Day 1: rest. Call us on {{ clinic_phone }}."
    errors = errors_of(lint_overrides(plan, {SMS: no_emergency}, renderer))
    assert [str(e) for e in errors] == [
        "ERROR thread_lift/day1_care (sms en) [thread_lift/day1_care.sms.en.j2]: emergency line "
        "missing: the text never gives {{ emergency_phone }}"
    ]


def test_an_sms_too_long_for_the_longest_clinic_name_is_refused(renderer, plan) -> None:
    long = GOOD_SMS.replace("Day 1:", "Day 1: " + "Rest, keep your head up and drink water. " * 6)
    errors = errors_of(lint_overrides(plan, {SMS: long}, renderer))
    assert len(errors) == 1 and errors[0].step == "day1_care" and errors[0].language == "en"
    assert "segments" in errors[0].message and errors[0].channel == "sms"


def test_placeholders_nobody_filled_in_are_refused(renderer, plan) -> None:
    text = GOOD_SMS.replace("Day 1:", "Day 1 at [Clinic name]: ask for {doctor}.")
    errors = errors_of(lint_overrides(plan, {SMS: text}, renderer))
    assert len(errors) == 1
    assert "placeholder(s) '[Clinic name]', '{doctor}' left in the text" in errors[0].message


def test_a_clinic_text_that_passes_is_not_refused(renderer, plan) -> None:
    assert errors_of(lint_overrides(plan, {SMS: GOOD_SMS}, renderer)) == []


def test_a_sign_in_one_language_only_is_refused_on_the_other(renderer, plan) -> None:
    """The English text adds the warning signs; the Spanish text of the step lacks them."""
    text = GOOD_SMS.replace("{% include", "{{ red_flags_summary }} {% include")
    errors = errors_of(lint_overrides(plan, {SMS: text}, renderer))
    assert any((e.channel, e.language) == ("sms", "es") and "'es' text does not" in e.message
               for e in errors), errors  # fmt: skip


class Scripted:
    """A classifier that knows only the phrases it is given."""

    def __init__(self, urgent: set[str]) -> None:
        self.urgent = urgent

    def __call__(self, text: str, **_: object) -> TriageResult:
        label = "urgent" if text in self.urgent else "other"
        return TriageResult(label=label, matches=[])


def test_an_urgent_sign_the_plan_does_not_list_must_be_urgent_to_triage(plan) -> None:
    text = "Glow: Call 911 now for sudden hearing loss or blue lips. Call us on 555."
    rendered = {("day1_care", Channel.SMS, "en"): Rendered(None, text, None, 1)}
    phrases = urgent_phrases(plan, text, "en")
    assert phrases == ["sudden hearing loss or blue lips", "sudden hearing loss", "blue lips"]
    findings = lint_route_sentences(plan, rendered, Scripted({"i have blue lips", "blue lips"}))
    messages = [f"{f.step} {f.channel} {f.language}: {f.message.split(', a sign')[0]}"
                for f in findings]  # fmt: skip
    assert messages == [
        "day1_care sms en: triage: this text asks for help at once for 'sudden hearing loss or "
        "blue lips'",
        "day1_care sms en: triage: this text asks for help at once for 'sudden hearing loss'",
    ]
    assert "gets 'other' on day 1, 'other' on day 7: nobody would be paged" in findings[1].message


@pytest.mark.parametrize(
    "sentence",
    [
        "In an emergency call 911.",
        "Call 911 for any emergency.",
        "Call us now on 555 if you are worried.",
        "Call us today if the swelling is not going down.",  # not an urgent route
        "Call us now for pus or a fever.",  # the plan's own signs: lint_triage checks them
    ],
)
def test_sentences_without_a_new_urgent_sign_are_not_triaged(plan, sentence) -> None:
    assert urgent_phrases(plan, sentence, "en") == []
