"""`aftercare plans lint`: one small broken plan directory per kind of error."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.config import DEFAULT_TEMPLATES_DIR
from service.plans.lint import lint_dir
from service.plans.lint_checks import Finding

PLAN = """\
key: demo
version: 1
title: Demo plan
languages: [en]
red_flags:
  en:
    summary: "fever or pus"
    items: ["A fever", "Pus from the wound"]
steps:
  - key: day0
    when: 2h
    valid_for: 1d
    channels: sms
  - key: day1
    when: 1d at 09:00
    valid_for: 1d
    channels: email
"""
SMS = (
    "{{ clinic_name }}: call us for {{ red_flags_summary }}. Emergency: {{ emergency_phone }}. "
    "Clinic: {{ clinic_phone }}. Reply STOP to opt out, HELP for help."
)
EMAIL = """\
{% block subject %}Day 1{% endblock %}
{% block text %}
Hi {{ patient_first_name }},
{% for item in red_flags %}
- {{ item }}
{% endfor %}
Emergency: {{ emergency_phone }}. Clinic: {{ clinic_phone }}.
{% endblock %}
"""


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    """A minimal plan directory that lints clean; each test breaks one thing."""
    layout = DEFAULT_TEMPLATES_DIR / "messages" / "_partials" / "email.en.html.j2"
    files = {
        "plans/demo.yaml": PLAN,
        "messages/demo/day0.sms.en.j2": SMS,
        "messages/demo/day1.email.en.j2": EMAIL,
        "messages/_partials/email.en.html.j2": layout.read_text(),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


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
    assert (error.plan, error.step, error.line) == ("demo", "day1", 14)
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
    assert (error.step, error.line) == ("day0", 14)
    assert "duplicate step key" in error.message


def test_an_sms_over_the_hard_segment_limit_is_an_error(plan_dir: Path) -> None:
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + " More text." * 60)
    error = only_error(plan_dir)
    assert error.template == "demo/day0.sms.en.j2" and "segments" in error.message


def test_long_or_ucs2_sms_are_warnings_not_errors(plan_dir: Path) -> None:
    (plan_dir / "messages/demo/day0.sms.en.j2").write_text(SMS + " Ça ira, garçon. " + "x" * 40)
    found = lint_dir(plan_dir)
    assert [f.severity for f in found] == ["warning", "warning"]
    assert "3 segments" in found[0].message
    assert "'ç' force UCS-2" in found[1].message


def test_a_plan_without_red_flags_is_an_error(plan_dir: Path) -> None:
    edit(plan_dir / "plans/demo.yaml", 'summary: "fever or pus"', "")
    error = only_error(plan_dir)
    assert (error.plan, error.step) == ("demo", None) and "red_flags.en" in error.message


def test_a_plan_whose_day0_message_lacks_the_red_flags_is_an_error(plan_dir: Path) -> None:
    edit(plan_dir / "messages/demo/day0.sms.en.j2", "{{ red_flags_summary }}", "anything")
    error = only_error(plan_dir)
    assert error.plan == "demo" and "red-flag list missing" in error.message


def test_a_message_without_the_emergency_line_is_an_error(plan_dir: Path) -> None:
    edit(plan_dir / "messages/demo/day1.email.en.j2", "Emergency: {{ emergency_phone }}. ", "")
    error = only_error(plan_dir)
    assert error.template == "demo/day1.email.en.j2"
    assert "emergency line missing" in error.message


def test_a_message_without_the_clinic_number_is_an_error(plan_dir: Path) -> None:
    edit(plan_dir / "messages/demo/day0.sms.en.j2", "Clinic: {{ clinic_phone }}. ", "")
    assert "clinic number missing" in only_error(plan_dir).message


def test_the_first_sms_must_carry_the_opt_out_hint(plan_dir: Path) -> None:
    edit(plan_dir / "messages/demo/day0.sms.en.j2", " Reply STOP to opt out, HELP for help.", "")
    error = only_error(plan_dir)
    assert (error.step, error.template) == ("day0", "demo/day0.sms.en.j2")
    assert "opt-out" in error.message


def test_a_language_without_its_templates_is_an_error(plan_dir: Path) -> None:
    edit(plan_dir / "plans/demo.yaml", "languages: [en]", "languages: [en, es]")
    spanish_flags = '  es: {summary: "fiebre", items: [Fiebre]}\nsteps:'
    edit(plan_dir / "plans/demo.yaml", "steps:", spanish_flags)
    found = {(f.step, f.template, f.message) for f in errors(plan_dir)}
    assert ("day0", "demo/day0.sms.es.j2", "missing template") in found
    assert ("day1", "demo/day1.email.es.j2", "missing template") in found


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
