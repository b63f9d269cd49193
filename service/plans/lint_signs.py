"""Lint the warning-sign book behind the safety-net reply (`templates/warning_signs.yaml`).

Every plan needs an entry with at least one emergency sign, every sign it routes needs
words in each of the plan's languages, and the reply is rendered for every plan,
language, channel and route (emergency, clinic now, team) with the plan's real signs,
so a sign list that pushes an SMS past its limit is caught here.
"""

from __future__ import annotations

from pathlib import Path

from service.domain import Channel
from service.plans.lint_checks import Finding, check_message, sample_context
from service.plans.model import Plan
from service.rendering import Renderer, RenderError
from service.safety_net import FILE, ROUTES, TEAM, SignBook, SignBookError, load_book, reply_context

REPLY = "urgent_safety_net"


def lint_signs(templates_dir: Path, plans: list[Plan], renderer: Renderer) -> list[Finding]:
    try:
        book = load_book(templates_dir)
    except (OSError, SignBookError) as exc:
        return [Finding("error", str(exc), template=FILE)]
    findings: list[Finding] = []
    for plan in plans:
        findings += _check_plan(book, plan)
        if not any(f.severity == "error" for f in findings):
            findings += _render_replies(book, plan, renderer)
    return findings


def _check_plan(book: SignBook, plan: Plan) -> list[Finding]:
    routes = book.routes.get(plan.key)
    if routes is None:
        return [Finding("error", f"{FILE} has no entry for this plan", plan.key)]
    findings = []
    if not routes.get("emergency"):
        findings.append(Finding("error", f"{FILE}: no sign routed to the emergency number",
                                plan.key))  # fmt: skip
    for key in {k for route in ROUTES for k in routes.get(route, ())}:
        for lang in plan.languages:
            if lang not in book.signs[key].text:
                findings.append(Finding("error", f"{FILE}: sign {key!r} has no {lang!r} words",
                                        plan.key))  # fmt: skip
    return findings


def _render_replies(book: SignBook, plan: Plan, renderer: Renderer) -> list[Finding]:
    findings = []
    for lang in plan.languages:
        if not (renderer.messages_dir / f"_system/{REPLY}.sms.{lang}.j2").is_file():
            continue  # no reply of our own in this folder: nothing to render
        base = reply_context(book, plan_key=plan.key, matches=[], language=lang)
        for route in (*ROUTES, TEAM):
            signs = book.signs_for(plan.key, route) if route != TEAM else [None]
            reported = signs[0].text.get(lang, "") if signs and signs[0] else ""
            extra = {**base, "route": route, "reported_sign": reported}
            for channel in Channel:
                findings += _render_one(renderer, plan, lang, channel, extra)
    return findings


def _render_one(renderer: Renderer, plan: Plan, lang: str, channel: Channel,
                extra: dict[str, str]) -> list[Finding]:  # fmt: skip
    template = f"_system/{REPLY}.{channel.value}.{lang}.j2"
    try:
        result = renderer.render_system(name=REPLY, channel=channel, language=lang,
                                        context=sample_context(lang, **extra))  # fmt: skip
    except RenderError as exc:
        return [Finding("error", exc.reason, plan.key, REPLY, exc.template, exc.line)]
    found = check_message(result, channel, plan=plan.key, step=REPLY, template=template)
    route = extra["route"]
    return [Finding(f.severity, f"{f.message} (route {route})", f.plan, f.step, f.template)
            for f in found]  # fmt: skip
