"""One clinic text as the patient would read it, for the editor's live preview. Pure.

The preview uses the clinic's real name and numbers with a sample patient, so staff see
their own words; the quick checks beside it use the linter's worst case (the longest
clinic name and number the service accepts), so what the preview says about segments,
the emergency line and the clinic's number is what a save will say. The save runs the
whole plan linter on top (`lint_overrides`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from service.plans.lint_checks import Finding, check_message, sample_context
from service.plans.model import Plan
from service.plans.overrides import Slot, apply_overrides, check_source
from service.rendering import Rendered, Renderer, RenderError, message_context
from service.sms import count_segments

SAMPLE_PATIENT = {"en": "Alex", "es": "Lucía"}


@dataclass(frozen=True)
class ClinicValues:
    """What a clinic's patients see of it: the preview renders with these."""

    name: str
    phone: str
    emergency_phone: str
    phone_24h: bool
    timezone: str


@dataclass(frozen=True)
class Preview:
    rendered: Rendered | None  # None when the text cannot be rendered
    problems: list[str] = field(default_factory=list)  # why it cannot
    findings: list[Finding] = field(default_factory=list)  # quick checks, worst case
    encoding: str | None = None  # SMS: GSM-7 or UCS-2
    units: int | None = None  # SMS: characters as the carrier counts them


def preview_text(
    plan: Plan,
    slot: Slot,
    source: str,
    *,
    clinic: ClinicValues,
    renderer: Renderer,
    now: datetime.datetime,
) -> Preview:
    """`source` as the text of `slot`, rendered for the clinic and checked."""
    problems = check_source(plan, slot, source)
    if problems:
        return Preview(None, problems)
    effective = apply_overrides(plan, {slot.name: source})
    try:
        shown = _render(effective, slot, renderer, _context(slot, clinic, now))
        worst = _render(effective, slot, renderer, sample_context(slot.language))
    except RenderError as exc:
        return Preview(None, [f"line {exc.line}: {exc.reason}" if exc.line else exc.reason])
    findings = check_message(worst, slot.channel, plan=plan.key, step=slot.step.key,
                             template=slot.name)  # fmt: skip
    if shown.segments is None:
        return Preview(shown, [], findings)
    info = count_segments(shown.text)
    return Preview(shown, [], findings, info.encoding, info.units)


def _render(plan: Plan, slot: Slot, renderer: Renderer, context: dict[str, object]) -> Rendered:
    return renderer.render_step(plan=plan, step_key=slot.step.key, channel=slot.channel,
                                language=slot.language, context=context)  # fmt: skip


def _context(slot: Slot, clinic: ClinicValues, now: datetime.datetime) -> dict[str, object]:
    """The clinic's values, a sample patient, a procedure today at 10:00 clinic time."""
    local = now.astimezone(ZoneInfo(clinic.timezone))
    return message_context(
        patient_first_name=SAMPLE_PATIENT.get(slot.language, "Alex"),
        clinic_name=clinic.name,
        clinic_phone=clinic.phone,
        emergency_phone=clinic.emergency_phone,
        procedure_at_local=local.replace(hour=10, minute=0, second=0, microsecond=0),
        language=slot.language,
        clinic_24h=clinic.phone_24h,
    )
