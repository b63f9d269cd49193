"""Lint a clinic's wording of a plan before it may be saved. Pure.

Each replaced text must first be a text the clinic may write (`overrides.check_source`:
known placeholders only, no code). Then the plan with the clinic's texts goes through
the plan linter exactly as a shipped plan does (`lint.lint_plan`: every message rendered
with the longest clinic name and number the service accepts, the SMS segment limit,
the emergency line and the clinic's number in every message, each warning sign with its
route, the red-flag list on day 0, the same signs in every language, the opt-out hint,
plain words) and the triage check of the plan's warning signs (`lint_triage`), and its
texts are searched for placeholders nobody filled in ("[clinic name]", "{phone}").
Every finding names the plan, step, channel, language and template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from service.plans.lint import lint_plan
from service.plans.lint_checks import Finding, sample_context
from service.plans.lint_triage import lint_triage
from service.plans.lint_triage_text import Key, lint_route_sentences
from service.plans.model import Plan
from service.plans.overrides import OverrideError, Slot, apply_overrides, check_source, slot_named
from service.rendering import Rendered, Renderer, RenderError

# Text a template author left for someone to fill in: "{clinic_name}" (one brace),
# "[Clinic name]", "<phone>", "${name}", "%s", "XXX", "TBD", "TODO", "lorem ipsum".
_PLACEHOLDER = re.compile(
    r"\{\s*\w+\s*\}|\[\s*[A-Za-z][\w .'-]{0,40}\]|<\s*[A-Za-z][\w .'-]{0,40}>|\$\{?[A-Za-z_]\w*"
    r"|%\(?\w*\)?s\b|\bX{3,}\b|\b(?:TBD|TODO|FIXME)\b|lorem ipsum",
    re.IGNORECASE,
)


def lint_overrides(plan: Plan, overrides: Mapping[str, str], renderer: Renderer) -> list[Finding]:
    """Every problem of `plan` with the clinic's `overrides` (template name -> text)."""
    findings: list[Finding] = []
    slots: list[Slot] = []
    for name, source in sorted(overrides.items()):
        try:
            slot = slot_named(plan, name)
        except OverrideError as exc:
            findings.append(Finding("error", str(exc), plan.key, template=name))
            continue
        slots.append(slot)
        findings += [finding_at(plan, slot, p) for p in check_source(plan, slot, source)]
    if findings:
        return findings  # a text that may not be rendered is not rendered
    effective = apply_overrides(plan, overrides)
    findings += lint_plan(effective, renderer)
    for slot in slots:
        findings += _placeholders(effective, slot, renderer)
    findings += lint_triage([effective])
    findings += lint_route_sentences(effective, _rendered(effective, slots, renderer))
    return findings


def finding_at(plan: Plan, slot: Slot, message: str, severity: str = "error") -> Finding:
    return Finding(
        severity,  # type: ignore[arg-type]
        message,
        plan.key,
        slot.step.key,
        slot.name,
        channel=slot.channel.value,
        language=slot.language,
    )


def errors_of(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.severity == "error"]


def _render(plan: Plan, slot: Slot, renderer: Renderer) -> Rendered | None:
    try:
        return renderer.render_step(
            plan=plan,
            step_key=slot.step.key,
            channel=slot.channel,
            language=slot.language,
            context=sample_context(slot.language),
        )
    except RenderError:
        return None  # lint_plan reported it


def _rendered(plan: Plan, slots: list[Slot], renderer: Renderer) -> dict[Key, Rendered]:
    """The clinic's texts rendered with the linter's sample clinic."""
    found = {(s.step.key, s.channel, s.language): _render(plan, s, renderer) for s in slots}
    return {key: result for key, result in found.items() if result is not None}


def _placeholders(plan: Plan, slot: Slot, renderer: Renderer) -> list[Finding]:
    result = _render(plan, slot, renderer)
    if result is None:
        return []
    text = f"{result.subject or ''}\n{result.text}"
    found = sorted({match.group(0) for match in _PLACEHOLDER.finditer(text)})
    if not found:
        return []
    shown = ", ".join(repr(item) for item in found)
    msg = (
        f"placeholder(s) {shown} left in the text: write the words, or use the plan's "
        "placeholders such as {{ clinic_name }} and {{ clinic_phone }}"
    )
    return [finding_at(plan, slot, msg)]
