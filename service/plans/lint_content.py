"""Clinical content checks over a plan's rendered messages (pure).

- Routes: a sentence that names a warning sign gives that sign's route (the emergency
  number; "call us now"; "call us today"), and never names signs of two routes.
- Coverage: a safety step's SMS and email carry every sign, or the signs the step
  declares (`red_flags: {items, why}`); a routine step that declares signs carries them.
- Languages: every sign a message names in English it names in every other language.
- Words: no unexplained jargon in SMS, no gendered adjectives for the reader, no
  "day or night" unless the clinic declares a 24-hour line (the sample clinic does not).
"""

from __future__ import annotations

from collections.abc import Mapping

from service.domain import Channel, Priority
from service.plans.lint_checks import Finding
from service.plans.lint_language import RULES, Unit, mentions, units
from service.plans.model import Plan, Step, template_name
from service.plans.readability import grade_level
from service.plans.red_flags import RedFlagItem, Route, fold
from service.rendering import Rendered

Key = tuple[str, Channel, str]  # step, channel, language
READING_GRADE_MAX = 8.0  # day-0 SMS: grade 6-8 (US school grade, Flesch-Kincaid)
SAY = {
    Route.EMERGENCY: "the emergency number",
    Route.CLINIC_NOW: '"call us now" (the clinic, at once)',
    Route.TELL_US: '"call us today" / "tell us" (and not the emergency number)',
}


def check_content(
    plan: Plan, rendered: Mapping[Key, Rendered], *, emergency_phone: str
) -> list[Finding]:
    findings: list[Finding] = []
    for key, result in rendered.items():
        findings += _check_routes(plan, key, result.text, emergency_phone)
        findings += _check_words(plan, key, result.text)
    findings += _check_coverage(plan, rendered)
    findings += _check_languages(plan, rendered)
    findings += _check_reading_level(plan, rendered)
    return findings


def _finding(plan: Plan, key: Key, message: str, severity: str = "error") -> Finding:
    step, channel, lang = key
    name = template_name(plan.key, step, channel, lang)
    return Finding(severity, message, plan.key, step, name, channel=channel.value, language=lang)  # type: ignore[arg-type]


def signs_in(plan: Plan, text: str, language: str) -> list[RedFlagItem]:
    folded = fold(text)
    return [item for item in plan.red_flag_items if item.matches(folded, language)]


def _check_routes(plan: Plan, key: Key, text: str, emergency_phone: str) -> list[Finding]:
    lang = key[2]
    rules = RULES.get(lang)
    if rules is None or not plan.red_flag_items:
        return []
    findings = []
    for unit in units(text):
        signs = signs_in(plan, unit.text, lang)
        routes = sorted({sign.route for sign in signs})
        if len(routes) > 1:
            named = ", ".join(f"{s.key} ({s.route})" for s in signs)
            msg = (
                f"one sentence mixes routes ({named}): give each route its own sentence: "
                f"{unit.text!r}"
            )
            findings.append(_finding(plan, key, msg))
        elif routes and not _gives_route(Route(routes[0]), unit, lang, emergency_phone):
            sign = signs[0]
            msg = (
                f"names the {sign.route} sign {sign.key!r} without its route "
                f"({SAY[sign.route]}): {unit.text!r}"
            )
            findings.append(_finding(plan, key, msg))
    return findings


def _gives_route(route: Route, unit: Unit, lang: str, emergency_phone: str) -> bool:
    rules = RULES[lang]
    whole = unit.whole
    emergency = emergency_phone in whole
    if route is Route.EMERGENCY:
        return emergency
    now = mentions(rules.clinic_now, whole)
    if route is Route.CLINIC_NOW:
        return now
    return mentions(rules.tell_us, whole) and not now and not emergency


def expected_signs(plan: Plan, step: Step) -> list[str] | None:
    """The signs a step's messages must carry (None: no requirement)."""
    if step.red_flags is not None:
        return list(step.red_flags)
    if step.priority is Priority.SAFETY:
        return [item.key for item in plan.red_flag_items]
    return None


def _check_coverage(plan: Plan, rendered: Mapping[Key, Rendered]) -> list[Finding]:
    findings = []
    for (step_key, channel, lang), result in rendered.items():
        step = plan.step(step_key)
        wanted = expected_signs(plan, step)
        if wanted is None or not plan.red_flag_items:
            continue
        if channel is Channel.EMAIL and step.priority is Priority.SAFETY:
            wanted = [item.key for item in plan.red_flag_items]  # an email has the room
        found = {sign.key for sign in signs_in(plan, result.text, lang)}
        missing = [k for k in wanted if k not in found]
        if missing:
            why = "a safety step carries every sign" if step.red_flags is None else "declared"
            msg = (
                f"warning sign(s) {missing} missing ({why}; or declare the step's "
                "red_flags: {items, why})"
            )
            findings.append(_finding(plan, (step_key, channel, lang), msg))
    return findings


def _check_languages(plan: Plan, rendered: Mapping[Key, Rendered]) -> list[Finding]:
    """Every sign the first language's text names, each other language's names too."""
    findings = []
    first = plan.languages[0]
    for (step_key, channel, lang), result in rendered.items():
        source = rendered.get((step_key, channel, first))
        if lang == first or source is None:
            continue
        named = {s.key for s in signs_in(plan, source.text, first)}
        here = {s.key for s in signs_in(plan, result.text, lang)}
        missing = sorted(named - here)
        if missing:
            msg = f"the {first!r} text names warning sign(s) {missing}; the {lang!r} text does not"
            findings.append(_finding(plan, (step_key, channel, lang), msg))
    return findings


def _check_words(plan: Plan, key: Key, text: str) -> list[Finding]:
    _, channel, lang = key
    rules = RULES.get(lang)
    if rules is None:
        return []
    folded, findings = fold(text), []
    if rules.day_or_night in folded:
        msg = f"says {rules.day_or_night!r} for a clinic without a 24-hour line (use clinic_24h)"
        findings.append(_finding(plan, key, msg))
    if rules.gendered is not None and (match := rules.gendered.search(folded)):
        msg = f"{match.group(0)!r} gives the reader a gender: rephrase so it fits anyone"
        findings.append(_finding(plan, key, msg))
    if channel is Channel.SMS and rules.jargon and (match := rules.jargon.search(folded)):
        msg = f"{match.group(0)!r} in an SMS: say it in plain words, or explain it in brackets"
        findings.append(_finding(plan, key, msg))
    return findings


def _check_reading_level(plan: Plan, rendered: Mapping[Key, Rendered]) -> list[Finding]:
    findings = []
    for (step_key, channel, lang), result in rendered.items():
        step = plan.step(step_key)
        if lang != "en" or channel is not Channel.SMS or step.offset.calendar_days != 0:
            continue
        grade = grade_level(result.text)
        if grade > READING_GRADE_MAX:
            msg = f"reads at US grade {grade:.1f}: aim day-0 texts at grade 6-8"
            findings.append(_finding(plan, (step_key, channel, lang), msg, "warning"))
    return findings
