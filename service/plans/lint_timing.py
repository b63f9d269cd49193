"""Timing checks: what a patient actually receives, for every procedure time of day (pure).

The plan is laid out with the enrolment maths (`service.scheduling`) and the default
clinic windows for a procedure at every quarter hour of a day, enrolled in advance:

- no day-0 step at a fixed clock time: day 0 is counted from the procedure, and
  "0d at 19:00" goes before an evening procedure;
- only the first safety message declares its own night edges (`night: 23:00-07:00`);
- nothing is due before the procedure;
- the first SMS that actually goes, whatever the procedure time, has the opt-out hint;
- a message that says "tonight" never arrives on a later day than the one it was
  planned for (quiet hours move late evening messages to the next morning).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from service.domain import Channel, Priority
from service.plans.lint_checks import OPT_OUT_WORDS, Finding
from service.plans.lint_language import RULES
from service.plans.model import Occurrence, Plan, template_name
from service.plans.red_flags import fold
from service.rendering import Rendered
from service.scheduling import QuietHours, local_due, next_allowed, step_window

Key = tuple[str, Channel, str]
# The clinic defaults (service.db.models.Clinic): routine 20:00-08:00, safety 21:00-08:00.
QUIET = QuietHours(time(20, 0), time(8, 0))
NIGHT = QuietHours(time(21, 0), time(8, 0))
ZONE = ZoneInfo("America/New_York")
SAMPLE_DAY = date(2026, 3, 4)
PROCEDURE_TIMES = [time(h, m) for h in range(24) for m in (0, 15, 30, 45)]


def check_timing(plan: Plan, rendered: Mapping[Key, Rendered]) -> list[Finding]:
    findings = _fixed_clock_on_day0(plan) + _night_edges(plan)
    if findings:
        return findings  # the simulation below would only repeat the same fault
    tonight = _steps_saying_tonight(plan, rendered)
    reported: set[tuple[str | None, str | None, str]] = set()
    for at in PROCEDURE_TIMES:
        procedure_at = datetime.combine(SAMPLE_DAY, at, tzinfo=ZONE)
        sends = _sends(plan, procedure_at)
        for problem in _problems(plan, procedure_at, sends, rendered, tonight):
            kind = (problem.step, problem.template, problem.message[:20])
            if kind not in reported:  # the first procedure time that shows it is enough
                reported.add(kind)
                findings.append(problem)
    return findings


def _fixed_clock_on_day0(plan: Plan) -> list[Finding]:
    return [
        Finding(
            "error",
            f"when: {step.offset} is a clock time on the procedure day; day-0 steps count "
            "from the procedure (e.g. '4h'), or it goes before an evening procedure",
            plan.key,
            step.key,
        )
        for step in plan.steps
        if step.offset.calendar_days == 0 and step.offset.at is not None
    ]


def _night_edges(plan: Plan) -> list[Finding]:
    """Only the first safety message after the procedure may declare its own night."""
    safety = sorted(
        (s for s in plan.steps if s.priority is Priority.SAFETY),
        key=lambda s: s.offset.nominal_days,
    )
    return [
        Finding(
            "error",
            f"night: only the first safety message may declare its night ({safety[0].key} "
            "comes first)",
            plan.key,
            step.key,
        )
        for step in safety[1:]
        if step.night is not None
    ]


def _sends(plan: Plan, procedure_at: datetime) -> list[tuple[datetime, Occurrence]]:
    result = []
    for occ in plan.occurrences():
        planned = local_due(procedure_at, occ.offset, tz=ZONE)
        window = step_window(occ.step.priority, occ.step.night, quiet=QUIET, night=NIGHT)
        result.append((next_allowed(planned, tz=ZONE, window=window), occ))
    return sorted(result, key=lambda pair: pair[0])


def _problems(
    plan: Plan,
    procedure_at: datetime,
    sends: list[tuple[datetime, Occurrence]],
    rendered: Mapping[Key, Rendered],
    tonight: set[str],
) -> list[Finding]:
    when = f"(procedure at {procedure_at:%H:%M})"
    found = []
    for due, occ in sends:
        if due < procedure_at:
            msg = f"goes before the procedure {when}"
            found.append(Finding("error", msg, plan.key, occ.step.key))
        planned_day = procedure_at.astimezone(ZONE).date() + timedelta(
            days=occ.offset.calendar_days
        )
        if occ.step.key in tonight and due.astimezone(ZONE).date() != planned_day:
            msg = (
                f"says 'tonight' but quiet hours move it to {due.astimezone(ZONE):%a %H:%M} "
                f"{when}: write text that is true whenever it arrives"
            )
            found.append(Finding("error", msg, plan.key, occ.step.key))
    first_sms = next((occ for _, occ in sends if Channel.SMS in occ.step.channels), None)
    if first_sms is not None:
        found += _opt_out(plan, first_sms.step.key, rendered, when)
    return found


def _opt_out(plan: Plan, step: str, rendered: Mapping[Key, Rendered], when: str) -> list[Finding]:
    found = []
    for lang in plan.languages:
        result = rendered.get((step, Channel.SMS, lang))
        if result is not None and not all(word in result.text for word in OPT_OUT_WORDS):
            msg = (
                "first SMS the patient gets lacks the opt-out hint (Reply STOP to opt out, "
                f"HELP for help) {when}"
            )
            name = template_name(plan.key, step, Channel.SMS, lang)
            found.append(Finding("error", msg, plan.key, step, name, channel="sms", language=lang))
    return found


def _steps_saying_tonight(plan: Plan, rendered: Mapping[Key, Rendered]) -> set[str]:
    return {
        step
        for (step, _, lang), result in rendered.items()
        if (rules := RULES.get(lang)) is not None and rules.tonight.search(fold(result.text))
    }
