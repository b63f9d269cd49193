"""`aftercare plans lint`: one small broken plan directory per kind of error."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.config import DEFAULT_TEMPLATES_DIR
from service.plans.lint import lint_dir
from service.plans.lint_checks import Finding

PARTIALS_DIR = DEFAULT_TEMPLATES_DIR / "messages" / "_partials"

PLAN = """\
key: demo
version: 1
title: Demo plan
languages: [en]
red_flags:
  - key: breathing
    route: emergency
    en: {text: "Trouble breathing", sms: "trouble breathing", terms: [breathing]}
  - key: fever
    route: tell_us
    en: {text: "A fever", sms: "a fever", terms: [fever]}
steps:
  - key: day0
    when: 2h
    valid_for: 1d
    channels: sms
    priority: safety
  - key: day1
    when: 1d at 09:00
    valid_for: 1d
    channels: email
"""
SMS = "{{ clinic_name }}: {{ red_flags_summary }} Reply STOP to opt out, HELP for help."
EMAIL = """\
{% block subject %}Day 1{% endblock %}
{% block text %}
Hi {{ patient_first_name }},
{% include "_partials/red_flags.email.en.j2" %}
Emergency: {{ emergency_phone }}. Clinic: {{ clinic_phone }}.
{% endblock %}
"""
SPANISH_FLAGS = {
    "breathing": 'es: {text: "Dificultad para respirar", sms: "ahogo", terms: [respirar, ahogo]}',
    "fever": 'es: {text: "Fiebre", sms: "fiebre", terms: [fiebre]}',
}
PARTIALS = ("email.en.html.j2", "red_flags.sms.en.j2", "red_flags.email.en.j2")
PARTIALS_ES = ("email.es.html.j2", "red_flags.sms.es.j2", "red_flags.email.es.j2")


SIGNS = """\
general:
  - {key: breathing, match: [breath], en: trouble breathing, es: ahogo}
  - {key: chest, match: [chest], en: chest pain, es: dolor en el pecho}
"""


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    """A minimal plan directory that lints clean; each test breaks one thing."""
    files = {
        "plans/demo.yaml": PLAN,
        "warning_signs.yaml": SIGNS,
        "messages/demo/day0.sms.en.j2": SMS,
        "messages/demo/day1.email.en.j2": EMAIL,
    }
    for name in PARTIALS + PARTIALS_ES:
        files[f"messages/_partials/{name}"] = (PARTIALS_DIR / name).read_text()
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def add_spanish(plan_dir: Path, sms: str = SMS, email: str = EMAIL) -> None:
    edit(plan_dir / "plans/demo.yaml", "languages: [en]", "languages: [en, es]")
    for key, line in SPANISH_FLAGS.items():
        marker = f"terms: [{'breathing' if key == 'breathing' else 'fever'}]}}"
        edit(plan_dir / "plans/demo.yaml", marker, marker + "\n    " + line)
    spanish_email = email.replace(".en.j2", ".es.j2").replace("Hi ", "Hola ")
    (plan_dir / "messages/demo/day0.sms.es.j2").write_text(sms)
    (plan_dir / "messages/demo/day1.email.es.j2").write_text(spanish_email)


def errors(path: Path) -> list[Finding]:
    return [f for f in lint_dir(path) if f.severity == "error"]


def only_error(path: Path) -> Finding:
    found = errors(path)
    assert len(found) == 1, [str(f) for f in found]
    return found[0]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_minimal_plan_lints_clean(plan_dir: Path) -> None:
    assert lint_dir(plan_dir) == []


def test_a_general_warning_sign_without_words_in_a_plan_language_is_an_error(
    plan_dir: Path,
) -> None:
    edit(plan_dir / "warning_signs.yaml", "en: chest pain, ", "")
    error = only_error(plan_dir)
    assert error.message == "warning_signs.yaml: general sign(s) chest have no 'en' words"


def test_a_missing_warning_sign_file_is_an_error(plan_dir: Path) -> None:
    (plan_dir / "warning_signs.yaml").unlink()
    assert "warning_signs.yaml" in only_error(plan_dir).message


def test_a_safety_net_reply_too_long_for_a_plans_signs_is_named_with_its_route(
    tmp_path: Path,
) -> None:
    import shutil

    shutil.copytree(DEFAULT_TEMPLATES_DIR, tmp_path / "t")
    reply = tmp_path / "t/messages/_system/urgent_safety_net.sms.en.j2"
    edit(reply, "We have alerted our team.{% if", "We have alerted our team. " + "x" * 80 + "{% if")
    found = [str(f) for f in lint_dir(tmp_path / "t") if f.severity == "error"]
    assert found and all("(route clinic_now)" in f and "3 segments" in f for f in found)


def test_the_shipped_plans_lint_without_errors() -> None:
    assert [str(f) for f in errors(DEFAULT_TEMPLATES_DIR)] == []


def test_a_missing_template_is_named(plan_dir: Path) -> None:
    (plan_dir / "messages/demo/day1.email.en.j2").unlink()
    error = only_error(plan_dir)
    assert (error.plan, error.step, error.template) == ("demo", "day1", "demo/day1.email.en.j2")
    assert error.message == "missing template"


def test_an_undefined_variable_names_template_and_line(plan_dir: Path) -> None:
    edit(plan_dir / "messages/demo/day1.email.en.j2", "Hi {{ patient_first_name }}", "Hi {{ nam }}")
    error = only_error(plan_dir)
    assert (error.template, error.line) == ("demo/day1.email.en.j2", 3)
    assert "'nam' is undefined" in error.message


def test_a_template_syntax_error_names_the_line(plan_dir: Path) -> None:
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + "\n{% if %}\n")
    error = only_error(plan_dir)
    assert (error.template, error.line) == ("demo/day0.sms.en.j2", 2)


def test_a_bad_offset_names_step_and_yaml_line(plan_dir: Path) -> None:
    edit(plan_dir / "plans/demo.yaml", "when: 1d at 09:00", "when: tomorrow")
    error = only_error(plan_dir)
    assert (error.plan, error.step, error.line) == ("demo", "day1", 18)
    assert "when: bad offset 'tomorrow'" in error.message


def test_a_bad_validity_window_is_an_error(plan_dir: Path) -> None:
    edit(
        plan_dir / "plans/demo.yaml",
        "valid_for: 1d\n    channels: email",
        "valid_for: 1mo\n    channels: email",
    )
    error = only_error(plan_dir)
    assert error.step == "day1" and "valid_for" in error.message


def test_a_repeat_ending_before_it_starts_is_an_error(plan_dir: Path) -> None:
    edit(
        plan_dir / "plans/demo.yaml",
        "channels: email",
        "channels: email\n    repeat: {every: 1d, until: 12h}",
    )
    error = only_error(plan_dir)
    assert error.step == "day1" and "repeat" in error.message


def test_an_unknown_channel_is_an_error(plan_dir: Path) -> None:
    edit(plan_dir / "plans/demo.yaml", "channels: email", "channels: whatsapp")
    error = only_error(plan_dir)
    assert error.step == "day1" and "unknown channel 'whatsapp'" in error.message


def test_a_template_for_an_unknown_channel_is_an_error(plan_dir: Path) -> None:
    (plan_dir / "messages/demo/day1.fax.en.j2").write_text("hello")
    error = only_error(plan_dir)
    assert error.template == "demo/day1.fax.en.j2" and "unknown channel" in error.message


def test_a_duplicate_step_key_is_an_error(plan_dir: Path) -> None:
    edit(plan_dir / "plans/demo.yaml", "key: day1", "key: day0")
    error = only_error(plan_dir)
    assert (error.step, error.line) == ("day0", 18)
    assert "duplicate step key" in error.message


def test_an_sms_over_the_hard_segment_limit_is_an_error(plan_dir: Path) -> None:
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + " More text." * 60)
    error = only_error(plan_dir)
    assert error.template == "demo/day0.sms.en.j2" and "segments" in error.message


def test_the_first_sms_must_carry_the_opt_out_hint(plan_dir: Path) -> None:
    edit(plan_dir / "messages/demo/day0.sms.en.j2", " Reply STOP to opt out, HELP for help.", "")
    error = only_error(plan_dir)
    assert (error.step, error.template) == ("day0", "demo/day0.sms.en.j2")
    assert "opt-out" in error.message


def test_system_templates_are_linted_too(plan_dir: Path) -> None:
    system = plan_dir / "messages/_system"
    system.mkdir()
    (system / "thanks.sms.en.j2").write_text("Thanks {{ patient_first_name }}.\n{% endif %}")
    (system / "hello.sms.en.j2").write_text("Hello. Clinic: {{ clinic_phone }}")
    found = {(f.template, f.line, f.severity) for f in lint_dir(plan_dir)}
    assert ("_system/thanks.sms.en.j2", 2, "error") in found
    assert any(
        f.template == "_system/hello.sms.en.j2" and "emergency" in f.message
        for f in errors(plan_dir)
    )


def test_staff_pages_need_no_patient_emergency_line(plan_dir: Path) -> None:
    system = plan_dir / "messages/_system"
    system.mkdir()
    (system / "page_test.sms.en.j2").write_text("Alert {{ alert_id }}: call {{ patient_label }}")
    assert lint_dir(plan_dir) == []


def test_the_cli_exits_non_zero_naming_plan_step_template_and_line(plan_dir: Path) -> None:
    edit(plan_dir / "messages/demo/day1.email.en.j2", "Hi {{ patient_first_name }}", "Hi {{ nam }}")
    result = CliRunner().invoke(app, ["plans", "lint", str(plan_dir)])
    assert result.exit_code == 1
    assert "ERROR demo/day1 [demo/day1.email.en.j2:3]: 'nam' is undefined" in result.output


def test_the_cli_passes_on_the_shipped_plans() -> None:
    result = CliRunner().invoke(app, ["plans", "lint", "--no-warnings"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 error(s)")


def test_a_sign_the_triage_cannot_recognise_fails_the_cli(plan_dir: Path) -> None:
    # The plan tells patients to report it; repeated back it must reach a person.
    edit(plan_dir / "plans/demo.yaml", 'text: "A fever"', 'text: "A tame elephant"')
    result = CliRunner().invoke(app, ["plans", "lint", str(plan_dir)])
    assert result.exit_code == 1
    assert (
        "ERROR demo (en): triage: sign 'fever': a patient writing 'i have a tame elephant' "
        "gets 'other' on day 1, 'other' on day 7; the sign needs at least 'concern'"
    ) in result.output


def test_ucs2_characters_are_named_and_cost_the_segments_they_cost(plan_dir: Path) -> None:
    # One "ç" makes the whole text UCS-2 (67 characters a segment): named as a warning,
    # and the text no longer fits two segments with the longest clinic name.
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + " ça ira.")
    found = sorted(lint_dir(plan_dir), key=lambda f: f.severity)
    assert [f.severity for f in found] == ["error", "warning"]
    assert "UCS-2 units" in found[0].message and "'ç' force UCS-2" in found[1].message


def test_an_sms_past_two_segments_with_the_longest_clinic_name_is_an_error(plan_dir: Path) -> None:
    # 200 characters of text: fine for a short clinic name, three segments with a
    # 40-character name and a 20-character number.
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + " Rest." * 25)
    error = only_error(plan_dir)
    assert (error.step, error.channel, error.language) == ("day0", "sms", "en")
    assert "3 segments" in error.message and "longest clinic name" in error.message


def test_a_plan_without_red_flags_is_an_error(plan_dir: Path) -> None:
    text = (plan_dir / "plans/demo.yaml").read_text()
    start, end = text.index("red_flags:"), text.index("steps:")
    (plan_dir / "plans/demo.yaml").write_text(text[:start] + text[end:])
    assert any("red_flags" in f.message and f.step is None for f in errors(plan_dir))


def test_a_red_flag_without_a_known_route_is_an_error(plan_dir: Path) -> None:
    edit(plan_dir / "plans/demo.yaml", "route: tell_us", "route: soon")
    error = only_error(plan_dir)
    assert "fever: route 'soon' must be one of emergency, clinic_now, tell_us" in error.message


def test_a_message_without_the_emergency_line_is_an_error(plan_dir: Path) -> None:
    edit(plan_dir / "messages/demo/day1.email.en.j2", "Emergency: {{ emergency_phone }}. ", "")
    edit(
        plan_dir / "messages/demo/day1.email.en.j2",
        '{% include "_partials/red_flags.email.en.j2" %}',
        "",
    )
    error = only_error(plan_dir)
    assert error.template == "demo/day1.email.en.j2"
    assert "emergency line missing" in error.message


def test_a_message_without_the_clinic_number_is_an_error(plan_dir: Path) -> None:
    edit(plan_dir / "messages/demo/day1.email.en.j2", "Clinic: {{ clinic_phone }}.", "")
    edit(
        plan_dir / "messages/demo/day1.email.en.j2",
        '{% include "_partials/red_flags.email.en.j2" %}',
        "",
    )
    assert "clinic number missing" in only_error(plan_dir).message


def test_a_sign_named_without_its_route_is_an_error(plan_dir: Path) -> None:
    # The Botox defect: "Call us for trouble breathing" for a sign that needs 911.
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + " Call us for trouble breathing.")
    error = only_error(plan_dir)
    assert (error.plan, error.step, error.channel, error.language) == ("demo", "day0", "sms", "en")
    assert "names the emergency sign 'breathing' without its route" in error.message


def test_a_tell_us_sign_sent_to_the_emergency_number_is_an_error(plan_dir: Path) -> None:
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + " Call 911 now for a fever.")
    assert "tell_us sign 'fever' without its route" in only_error(plan_dir).message


def test_a_sentence_that_mixes_routes_is_an_error(plan_dir: Path) -> None:
    text = SMS + " Call {{ emergency_phone }} now for trouble breathing or a fever."
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(text)
    error = only_error(plan_dir)
    assert "mixes routes (breathing (emergency), fever (tell_us))" in error.message


def test_a_bullet_takes_its_route_from_the_line_that_introduces_it(plan_dir: Path) -> None:
    email = EMAIL.replace(
        '{% include "_partials/red_flags.email.en.j2" %}',
        "Tell us today if you notice:\n- Trouble breathing",
    )
    (plan_dir / "messages/demo/day1.email.en.j2").write_text(email)
    assert "emergency sign 'breathing' without its route" in only_error(plan_dir).message


def test_a_safety_sms_that_leaves_out_a_sign_is_an_error(plan_dir: Path) -> None:
    text = "{{ clinic_name }}: Call {{ emergency_phone }} now for trouble breathing. "
    text += "Clinic: {{ clinic_phone }}. Reply STOP to opt out, HELP for help."
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(text)
    found = [f.message for f in errors(plan_dir)]
    assert any("warning sign(s) ['fever'] missing" in m for m in found)


def test_a_step_may_declare_which_signs_it_carries_and_why(plan_dir: Path) -> None:
    declared = "priority: safety\n    red_flags: {items: [breathing], why: fever comes later}"
    edit(plan_dir / "plans/demo.yaml", "priority: safety", declared)
    edit(plan_dir / "messages/demo/day0.sms.en.j2", " Reply", " Clinic: {{ clinic_phone }}. Reply")
    # The day-0 messages together must still name every sign: the email does.
    edit(plan_dir / "plans/demo.yaml", "when: 1d at 09:00", "when: 4h")
    assert errors(plan_dir) == []
    text = (plan_dir / "messages/demo/day0.sms.en.j2").read_text()
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(
        text.replace("{{ red_flags_summary }}", "Emergency: {{ emergency_phone }}.")
    )
    assert "['breathing'] missing (declared" in only_error(plan_dir).message


def test_a_declared_sign_that_does_not_exist_is_an_error(plan_dir: Path) -> None:
    declared = "priority: safety\n    red_flags: {items: [rash], why: it is itchy}"
    edit(plan_dir / "plans/demo.yaml", "priority: safety", declared)
    assert "unknown warning sign(s) ['rash']" in only_error(plan_dir).message


def test_day0_messages_together_name_every_sign(plan_dir: Path) -> None:
    declared = "priority: safety\n    red_flags: {items: [breathing], why: fever comes later}"
    edit(plan_dir / "plans/demo.yaml", "priority: safety", declared)
    edit(plan_dir / "messages/demo/day0.sms.en.j2", " Reply", " Clinic: {{ clinic_phone }}. Reply")
    error = only_error(plan_dir)
    assert "red-flag list missing" in error.message and "['fever']" in error.message


def test_a_sign_named_in_english_must_be_named_in_spanish(plan_dir: Path) -> None:
    spanish = "{{ clinic_name }}: Llame ya al {{ emergency_phone }} si nota ahogo. "
    spanish += "Clínica: {{ clinic_phone }}. Responda STOP para salir, HELP para ayuda."
    add_spanish(plan_dir, sms=spanish)
    found = [f for f in errors(plan_dir) if "does not" in f.message]
    assert len(found) == 1
    assert (found[0].step, found[0].language) == ("day0", "es")
    assert (
        "the 'en' text names warning sign(s) ['fever']; the 'es' text does not" in found[0].message
    )


def test_a_language_without_its_templates_is_an_error(plan_dir: Path) -> None:
    add_spanish(plan_dir)
    (plan_dir / "messages/demo/day0.sms.es.j2").unlink()
    found = {(f.step, f.template, f.message) for f in errors(plan_dir)}
    assert ("day0", "demo/day0.sms.es.j2", "missing template") in found


def test_a_gendered_spanish_adjective_is_an_error(plan_dir: Path) -> None:
    add_spanish(plan_dir)
    email = EMAIL.replace("Hi ", "Hola ").replace(".en.j2", ".es.j2")
    email = email.replace("Emergency:", "Esperamos que esté contento. Emergencia:")
    (plan_dir / "messages/demo/day1.email.es.j2").write_text(email)
    error = only_error(plan_dir)
    assert (error.step, error.channel, error.language) == ("day1", "email", "es")
    assert "'contento' gives the reader a gender" in error.message


def test_jargon_in_an_sms_is_an_error_unless_explained(plan_dir: Path) -> None:
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + " Dusky skin is rare.")
    assert "'dusky' in an SMS" in only_error(plan_dir).message
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + " Dusky (grey) skin is rare.")
    assert errors(plan_dir) == []


def test_day_or_night_needs_a_clinic_with_a_24_hour_line(plan_dir: Path) -> None:
    email = EMAIL.replace(
        "Clinic: {{ clinic_phone }}.", "Clinic: {{ clinic_phone }}, day or night."
    )
    (plan_dir / "messages/demo/day1.email.en.j2").write_text(email)
    assert "says 'day or night'" in only_error(plan_dir).message
    email = EMAIL.replace(
        "Clinic: {{ clinic_phone }}.",
        "Clinic: {{ clinic_phone }}{% if clinic_24h %}, day or night{% endif %}.",
    )
    (plan_dir / "messages/demo/day1.email.en.j2").write_text(email)
    assert errors(plan_dir) == []


def test_a_clock_time_on_the_procedure_day_is_an_error(plan_dir: Path) -> None:
    edit(plan_dir / "plans/demo.yaml", "when: 2h", "when: 0d at 19:00")
    error = only_error(plan_dir)
    assert error.step == "day0" and "clock time on the procedure day" in error.message


def test_the_first_sms_actually_sent_must_carry_the_opt_out_hint(plan_dir: Path) -> None:
    # day0 is routine (never 20:00-08:00); a safety text 30 minutes later may use the
    # evening, so after an 18:00 procedure it is the first one the patient gets.
    edit(plan_dir / "plans/demo.yaml", "    priority: safety\n", "")
    check = "  - key: check\n    when: 2h 30min\n    valid_for: 4h\n    channels: sms\n"
    edit(
        plan_dir / "plans/demo.yaml", "  - key: day1", check + "    priority: safety\n  - key: day1"
    )
    text = "{{ clinic_name }}: {{ red_flags_summary }}"
    (plan_dir / "messages/demo/check.sms.en.j2").write_text(text)
    error = only_error(plan_dir)
    assert (error.step, error.template) == ("check", "demo/check.sms.en.j2")
    assert "opt-out" in error.message and "procedure at 18:00" in error.message


def test_tonight_is_an_error_when_quiet_hours_can_move_the_message_to_the_next_day(
    plan_dir: Path,
) -> None:
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + " Rest tonight.")
    error = only_error(plan_dir)
    assert error.step == "day0" and "says 'tonight'" in error.message
    assert "procedure at 19:00" in error.message


def test_a_day0_sms_above_reading_grade_eight_is_a_warning(plan_dir: Path) -> None:
    long_words = " Postoperative inflammatory manifestations necessitate comprehensive evaluation."
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + long_words)
    found = lint_dir(plan_dir)
    assert [f.severity for f in found] == ["warning"]
    assert "aim day-0 texts at grade 6-8" in found[0].message


def test_each_shipped_plan_gives_every_sign_a_route_and_the_signs_of_each_route() -> None:
    from service.plans.catalog import load_catalog
    from service.plans.red_flags import Route

    for plan in load_catalog(DEFAULT_TEMPLATES_DIR):
        assert plan.red_flag_items, plan.key
        for item in plan.red_flag_items:
            assert item.route in set(Route)
            assert set(item.texts) == set(plan.languages)
            assert item.severity == ("concern" if item.route is Route.TELL_US else "urgent")


def test_only_the_first_safety_message_may_declare_its_night(plan_dir: Path) -> None:
    check = "  - key: check\n    when: 4h\n    valid_for: 4h\n    channels: sms\n"
    check += "    priority: safety\n    night: 23:00-07:00\n"
    edit(plan_dir / "plans/demo.yaml", "  - key: day1", check + "  - key: day1")
    (plan_dir / "messages/demo/check.sms.en.j2").write_text(SMS)
    error = only_error(plan_dir)
    assert error.step == "check" and "only the first safety message" in error.message
