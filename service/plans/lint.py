"""`aftercare plans lint`: validate every plan and render every template it needs.

Each problem is a Finding naming plan, step, channel, language, template and line.
Errors fail the lint: missing template, undefined variable, bad offset or window, unknown
channel, duplicate step, an SMS over 2 segments with the longest clinic name and number,
no red-flag list or emergency line, and the clinical checks of `lint_content` (each sign
with its route, safety steps carrying the signs, the same signs in every language, plain
and neutral words) and `lint_timing` (no clock time on day 0, the opt-out hint on the
first SMS sent and no "tonight" that arrives the next day, for any procedure time), and
`lint_triage` (a patient repeating a warning sign back is triaged at least as urgently as
the sign's route says).
Warnings (characters forcing UCS-2, a day-0 SMS above reading grade 8) do not fail it.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import yaml

from service.domain import Channel, Priority
from service.plans.catalog import plan_files
from service.plans.lint_checks import SAMPLE, Finding, check_message, sample_context
from service.plans.lint_content import check_content, signs_in
from service.plans.lint_signs import lint_signs
from service.plans.lint_system import lint_system
from service.plans.lint_timing import check_timing
from service.plans.lint_triage import lint_triage
from service.plans.loader import PlanDefinitionError, collect_templates, parse_plan, read_definition
from service.plans.model import Plan, PlanError, Step, template_name
from service.rendering import Rendered, Renderer, RenderError


def lint_dir(templates_dir: Path) -> list[Finding]:
    """Every plan file and every system template under `templates_dir`."""
    findings: list[Finding] = []
    files = plan_files(templates_dir)
    if not files:
        findings.append(Finding("error", f"no plans found in {templates_dir / 'plans'}"))
    renderer = Renderer(templates_dir)
    for path in files:
        findings += lint_plan_file(path, templates_dir, renderer)
    findings += lint_system(templates_dir, renderer)
    plans = _parsed_plans(files, templates_dir)
    findings += lint_signs(templates_dir, plans, renderer)
    findings += lint_triage(plans)
    return findings


def _parsed_plans(files: list[Path], templates_dir: Path) -> list[Plan]:
    """The plans that parse (those that do not are reported by `lint_plan_file`)."""
    plans = []
    for path in files:
        try:
            definition = read_definition(path)
            plans.append(parse_plan(definition, collect_templates(templates_dir / "messages",
                                                                  path.stem)))  # fmt: skip
        except PlanError:
            continue
    return plans


def lint_plan_file(path: Path, templates_dir: Path, renderer: Renderer) -> list[Finding]:
    key = path.stem
    try:
        definition = read_definition(path)
        templates = collect_templates(templates_dir / "messages", key)
        plan = parse_plan(definition, templates)
    except PlanDefinitionError as exc:
        lines = _step_lines(path)
        return [
            Finding("error", msg, key, step, line=lines.get(step or "")) for step, msg in exc.errors
        ]
    except PlanError as exc:
        return [Finding("error", str(exc), key)]
    findings = []
    if plan.key != key:
        findings.append(Finding("error", f"key {plan.key!r} must match the file name", key))
    findings += _check_timing(plan, _step_lines(path))
    findings += lint_plan(plan, renderer)
    findings += _orphans(plan, templates_dir / "messages")
    return findings


def lint_plan(plan: Plan, renderer: Renderer) -> list[Finding]:
    """Render every message of a parsed plan and run the content and timing checks."""
    findings: list[Finding] = []
    rendered = _render_all(plan, renderer, findings)
    for lang in plan.languages:
        findings += _check_red_flags(plan, rendered, lang)
    findings += check_content(plan, rendered, emergency_phone=SAMPLE["emergency_phone"])
    findings += check_timing(plan, rendered)
    return findings


def _step_lines(path: Path) -> dict[str, int]:
    """Line number of each step's `key:` in the YAML file, for error messages."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}
    steps = _mapping_get(root, "steps")
    for node in steps.value if isinstance(steps, yaml.SequenceNode) else []:
        key = _mapping_get(node, "key")
        if isinstance(key, yaml.ScalarNode):
            lines[str(key.value)] = node.start_mark.line + 1  # a duplicate: the later one
    return lines


def _mapping_get(node: yaml.Node | None, name: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if getattr(k, "value", None) == name), None)


def _check_timing(plan: Plan, lines: dict[str, int]) -> list[Finding]:
    findings = []
    for step in plan.steps:
        line = lines.get(step.key)
        if (
            step.repeat_until is not None
            and step.repeat_until.nominal_days < step.offset.nominal_days
        ):
            msg = f"repeat: until {step.repeat_until} comes before the first send ({step.offset})"
            findings.append(Finding("error", msg, plan.key, step.key, line=line))
        if step.valid_for > datetime.timedelta(days=60):
            msg = f"valid_for {step.valid_for} is longer than 60 days: stale advice must expire"
            findings.append(Finding("error", msg, plan.key, step.key, line=line))
        findings += _check_true_until(plan, step, line)
    return findings


def _check_true_until(plan: Plan, step: Step, line: int | None) -> list[Finding]:
    """The window in which the text is true must hold every send of the step."""
    if step.true_until is None:
        return []
    late = [o for o in step.occurrences() if o.offset.nominal_days >= step.true_until.nominal_days]
    if not late:
        return []
    msg = (
        f"true_until {step.true_until} is not after when {late[0].offset}: the advice would "
        "never be true when sent"
    )
    return [Finding("error", msg, plan.key, step.key, line=line)]


Key = tuple[str, Channel, str]  # step, channel, language


def step_channels(step: Step) -> list[Channel]:
    return [*step.channels, *([step.fallback] if step.fallback else [])]


def _render_all(plan: Plan, renderer: Renderer, findings: list[Finding]) -> dict[Key, Rendered]:
    rendered: dict[Key, Rendered] = {}
    for step in plan.steps:
        for lang in plan.languages if _may_go_by_email(step, renderer) else ():
            # A safety text goes by email when SMS is lost: its words in `step_by_email`.
            _render_one(plan, step, Channel.EMAIL, lang, renderer, findings)
        for channel in step_channels(step):
            for lang in plan.languages:
                name = template_name(plan.key, step.key, channel, lang)
                if name not in plan.templates:
                    findings.append(Finding("error", "missing template", plan.key, step.key, name))
                    continue
                result = _render_one(plan, step, channel, lang, renderer, findings)
                if result is not None:
                    rendered[(step.key, channel, lang)] = result
    return rendered


def _may_go_by_email(step: Step, renderer: Renderer) -> bool:
    """A text-only safety step, when the folder has the email it would go in."""
    wrapper = renderer.messages_dir / "_system" / "step_by_email.email.en.j2"
    by_sms = step.priority == Priority.SAFETY and Channel.EMAIL not in step_channels(step)
    return by_sms and wrapper.is_file()


def _render_one(
    plan: Plan, step: Step, channel: Channel, lang: str, renderer: Renderer, findings: list[Finding]
) -> Rendered | None:
    name = template_name(plan.key, step.key, channel, lang)
    try:
        result = renderer.render_step(
            plan=plan,
            step_key=step.key,
            channel=channel,
            language=lang,
            context=sample_context(lang),
        )
    except RenderError as exc:
        findings.append(Finding("error", exc.reason, plan.key, step.key, exc.template, exc.line))
        return None
    findings += check_message(result, channel, plan=plan.key, step=step.key, template=name)
    return result


def _check_red_flags(plan: Plan, rendered: dict[Key, Rendered], lang: str) -> list[Finding]:
    """The day-0 messages together name every warning sign of the plan."""
    wanted = [
        (step.key, channel, lang)
        for step in plan.steps
        if step.offset.calendar_days == 0
        for channel in step_channels(step)
    ]
    if any(key not in rendered for key in wanted):
        return []  # a day-0 template failed or is missing: that error is already reported
    named = {sign.key for key in wanted for sign in signs_in(plan, rendered[key].text, lang)}
    missing = [item.key for item in plan.red_flag_items if item.key not in named]
    if plan.red_flag_items and not missing:
        return []
    msg = f"red-flag list missing: no day-0 message in {lang!r} names {missing or 'the signs'}"
    return [Finding("error", msg, plan.key, language=lang)]


def _orphans(plan: Plan, messages_dir: Path) -> list[Finding]:
    """Template files in the plan's folder that no step uses (often a typo)."""
    findings = []
    steps = {s.key for s in plan.steps}
    for name in sorted(n for n in plan.templates if n.startswith(f"{plan.key}/")):
        parts = name.split("/", 1)[1].split(".")
        if len(parts) != 4 or parts[1] not in {c.value for c in Channel}:
            msg = "template name must be <step>.<sms|email>.<lang>.j2 (unknown channel?)"
            findings.append(Finding("error", msg, plan.key, None, name))
        elif parts[0] not in steps:
            findings.append(
                Finding("warning", "template for no step of this plan", plan.key, None, name)
            )
    return findings
