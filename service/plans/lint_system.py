"""Lint the system templates in `templates/messages/_system/` (catch-up, replies, pages).

System templates are rendered by other parts of the service with their own extra
variables (an alert link, an escalation level...). The linter supplies the standard
message variables and a sample value for any other variable a template reads, so it
checks syntax, rendering, length, encoding and the emergency line, not the callers.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import TemplateSyntaxError, meta

from service.domain import Channel
from service.plans.lint_checks import Finding, check_message, sample_context
from service.rendering import Renderer, RenderError, make_environment

STAFF_PREFIXES = ("page_",)  # messages to clinic staff, not patients
FRAGMENTS = ("unsubscribe_footer",)  # lines added to other messages, not messages
SAMPLE_EXTRAS: dict[str, object] = {
    "red_flags": ["Sample warning sign one", "Sample warning sign two"],
    "red_flags_summary": "sample warning signs",
    "skipped_count": 2,
    "days_since": 3,
    "escalation_level": 1,
    "coming_count": 3,
    "next_date": "March 9",
    "plan_stopped": False,
    "safety_by_email": True,
    "count": 3,
    "detail": "full",
    "day": 3,
    "callback": "+14155550123",
}
# Other branches of templates that say different things in different cases: each is
# rendered and checked too.
VARIANTS: dict[str, list[dict[str, object]]] = {
    "start_confirmation": [{"plan_stopped": True}, {"coming_count": 0}, {"coming_count": 1}],
    "stop_confirmation": [{"safety_by_email": False}],
    "catch_up": [{"coming_count": 0, "next_date": ""}],
    "page_overdue": [{"count": 1}],
    "page_urgent": [{"detail": "minimal"}, {"procedure": "", "sign": ""}],
}


class Sample(str):
    """A stand-in for a caller-supplied value: prints as text, allows `.attribute`."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Sample:
        if name.startswith("_"):
            raise AttributeError(name)
        return Sample(f"{self}.{name}")


def lint_system(templates_dir: Path, renderer: Renderer) -> list[Finding]:
    folder = templates_dir / "messages" / "_system"
    findings: list[Finding] = []
    for path in sorted(folder.glob("*.j2")) if folder.is_dir() else []:
        findings += lint_system_template(path, templates_dir, renderer)
    return findings


def lint_system_template(path: Path, templates_dir: Path, renderer: Renderer) -> list[Finding]:
    template = path.relative_to(templates_dir / "messages").as_posix()
    parts = path.name.split(".")
    if len(parts) != 4 or parts[1] not in {c.value for c in Channel}:
        msg = "system template name must be <name>.<sms|email>.<lang>.j2 (unknown channel?)"
        return [Finding("error", msg, template=template)]
    name, channel, lang = parts[0], Channel(parts[1]), parts[2]
    findings: list[Finding] = []
    for variant in [{}, *VARIANTS.get(name, [])]:
        try:
            extras = {**_extra_variables(path, templates_dir, lang), **variant}
            result = renderer.render_system(
                name=name, channel=channel, language=lang, context=sample_context(lang, **extras)
            )
        except RenderError as exc:
            return [Finding("error", exc.reason, None, name, exc.template, exc.line)]
        # Replies and confirmations must say what to do in an emergency; the clinic
        # number is only a warning there (a safety-net reply may say the team will call).
        found = check_message(
            result, channel, plan=None, step=name, template=template, clinic_phone="warning"
        )
        findings += [f for f in found if f not in findings]
    if name.startswith(STAFF_PREFIXES) or name in FRAGMENTS:  # not a message to a patient
        findings = [f for f in findings if "missing:" not in f.message]
    return findings


def _extra_variables(path: Path, templates_dir: Path, lang: str) -> dict[str, object]:
    """Sample values for the variables a template reads beyond the standard ones."""
    env = make_environment(loader=None)
    source = path.read_text(encoding="utf-8")
    try:
        names = meta.find_undeclared_variables(env.parse(source))
    except TemplateSyntaxError as exc:
        template = path.relative_to(templates_dir / "messages").as_posix()
        raise RenderError(template, exc.lineno, exc.message or "syntax error") from exc
    standard = set(sample_context(lang))
    return {n: SAMPLE_EXTRAS.get(n, Sample(f"sample-{n}")) for n in names - standard}
