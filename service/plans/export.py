"""A plan version as a document a clinician reviews and signs off (`plans export`).

Every message in every language and channel, laid out on a sample calendar, with when
it is sent, how long it stays valid, which warning signs it names and the route it
gives each; the red-flag items with their route, the triage severity they require and
what the triage classifier makes of each today; and the sign-offs recorded for this
exact version. One self-contained HTML page (no scripts), autoescaped. Pure apart from
reading the page template.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from service.domain import Channel
from service.phones import display_phone
from service.plans.lint_content import signs_in
from service.plans.model import Plan
from service.plans.red_flags import RedFlagItem, label_meets
from service.plans.timeline import TimelineRow, simulate
from service.rendering import Renderer, message_context
from service.scheduling import QuietHours
from service.triage import classify

# A typical clinic for reading (the linter uses the worst case instead).
SHOW_SAMPLE = {
    "patient_first_name": "Alex",
    "clinic_name": "Riverside Aesthetics",
    "clinic_phone": "+14155550100",
    "emergency_phone": "911",
}
SAMPLE_TZ = ZoneInfo("America/New_York")
SAMPLE_PROCEDURE_AT = datetime(2026, 3, 5, 10, 0, tzinfo=SAMPLE_TZ)
QUIET = QuietHours(time(20, 0), time(8, 0))
NIGHT = QuietHours(time(21, 0), time(8, 0))


@dataclass(frozen=True)
class SignoffLine:
    """What the document shows of one recorded sign-off."""

    signer_name: str
    signer_role: str
    signed_on: str
    recorded_at: str


@dataclass(frozen=True)
class MessageView:
    day: int
    local_time: str
    valid_for: str
    step: str
    title: str
    priority: str
    language: str
    channel: str
    subject: str | None
    text: str
    segments: int | None
    signs: list[tuple[str, str]]  # (sign key, route)
    declared: str  # the step's red_flags declaration, if any


def export_html(
    plan: Plan,
    *,
    templates_dir: Path,
    renderer: Renderer,
    signoffs: Sequence[SignoffLine] = (),
    clinic_texts: str | None = None,
    reworded: Collection[tuple[str, str, str]] = (),
) -> str:
    """The document; `clinic_texts` says whose wording it shows when it is a clinic's
    version, and `reworded` marks its (step, channel, language) messages."""
    env = Environment(
        loader=FileSystemLoader(str(templates_dir / "web")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("plan_export.html").render(
        plan=plan,
        flags=[_flag_row(plan, item) for item in plan.red_flag_items],
        messages=messages(plan, renderer),
        signoffs=list(signoffs),
        clinic_texts=clinic_texts,
        reworded=set(reworded),
        procedure_at=f"{SAMPLE_PROCEDURE_AT:%A %Y-%m-%d %H:%M} ({SAMPLE_TZ.key})",
        sample={**SHOW_SAMPLE, "clinic_phone": display_phone(SHOW_SAMPLE["clinic_phone"])},
    )


def messages(plan: Plan, renderer: Renderer) -> list[MessageView]:
    """Every message of the plan in every language, in the order the patient gets them."""
    result = []
    for lang in plan.languages:
        context = show_context(lang, SAMPLE_PROCEDURE_AT)
        rows = simulate(
            plan, procedure_at=SAMPLE_PROCEDURE_AT, tz=SAMPLE_TZ, quiet=QUIET, night=NIGHT,
            renderer=renderer, context=context, language=lang,
        )  # fmt: skip
        result += [_view(plan, row, lang) for row in rows]
    return result


def show_context(language: str, procedure_at_local: datetime) -> dict[str, object]:
    """The template values of the typical sample clinic (plans show, the review document)."""
    return message_context(
        patient_first_name=SHOW_SAMPLE["patient_first_name"],
        clinic_name=SHOW_SAMPLE["clinic_name"],
        clinic_phone=SHOW_SAMPLE["clinic_phone"],
        emergency_phone=SHOW_SAMPLE["emergency_phone"],
        procedure_at_local=procedure_at_local,
        language=language,
    )


def _view(plan: Plan, row: TimelineRow, lang: str) -> MessageView:
    step, local = row.occurrence.step, row.due_at.astimezone(SAMPLE_TZ)
    declared = ""
    if step.red_flags is not None:
        declared = f"carries {', '.join(step.red_flags)}: {step.red_flags_why}"
    return MessageView(
        day=(local.date() - SAMPLE_PROCEDURE_AT.date()).days,
        local_time=f"{local:%a %Y-%m-%d %H:%M}",
        valid_for=_span(row.valid_until - row.due_at),
        step=step.key + (f" #{row.occurrence.index + 1}" if step.repeat_every else ""),
        title=step.title,
        priority=step.priority.value,
        language=lang,
        channel=row.channel.value,
        subject=row.rendered.subject,
        text=row.rendered.text,
        segments=row.rendered.segments if row.channel is Channel.SMS else None,
        signs=[(s.key, s.route.value) for s in signs_in(plan, row.rendered.text, lang)],
        declared=declared,
    )


def _flag_row(plan: Plan, item: RedFlagItem) -> dict[str, Any]:
    per_language = []
    for lang in plan.languages:
        sign = item.texts[lang]
        label = classify(sign.text, procedure=plan.key).label
        per_language.append(
            {
                "language": lang,
                "text": sign.text,
                "sms": sign.sms,
                "terms": ", ".join(sign.terms),
                "triage": label,
                "ok": label_meets(label, item.severity),
            }
        )
    return {
        "key": item.key,
        "route": item.route.value,
        "severity": item.severity,
        "concepts": ", ".join(item.concepts),
        "languages": per_language,
    }


def _span(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"
