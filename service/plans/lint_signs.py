"""Lint the safety-net reply (`_system/urgent_safety_net`) against every plan's signs.

The reply follows each plan's routed red-flag items and falls back on the general signs
of `templates/warning_signs.yaml`, so for every plan and language it is rendered on
each route it can take (emergency, clinic now, team) with the plan's longest sign of
that route, and checked like any message (emergency line, clinic number, two
segments with the longest clinic name). The general signs need words in every
language a plan speaks.
"""

from __future__ import annotations

from pathlib import Path

from service.domain import Channel
from service.plans.lint_checks import Finding, check_message, sample_context
from service.plans.model import Plan
from service.plans.red_flags import Route
from service.rendering import Renderer, RenderError
from service.safety_net import FILE, TEAM, SignBook, SignBookError, load_book, reply_context

REPLY = "urgent_safety_net"


def lint_signs(templates_dir: Path, plans: list[Plan], renderer: Renderer) -> list[Finding]:
    try:
        book = load_book(templates_dir)
    except (OSError, SignBookError) as exc:
        return [Finding("error", str(exc), template=FILE)]
    findings: list[Finding] = []
    for plan in plans:
        for lang in plan.languages:
            missing = [sign.key for sign in book.general if lang not in sign.text]
            if missing:
                msg = f"{FILE}: general sign(s) {', '.join(missing)} have no {lang!r} words"
                findings.append(Finding("error", msg, plan.key))
            elif (renderer.messages_dir / f"_system/{REPLY}.sms.{lang}.j2").is_file():
                findings += _render_replies(book, plan, lang, renderer)
    return findings


def _render_replies(book: SignBook, plan: Plan, lang: str, renderer: Renderer) -> list[Finding]:
    base = reply_context(book, plan=plan, matches=[], language=lang)
    findings = []
    for route in (Route.EMERGENCY.value, Route.CLINIC_NOW.value, TEAM):
        extra = {**base, "route": route, "reported_sign": _longest(book, plan, lang, route)}
        for channel in Channel:
            findings += _render_one(renderer, plan, lang, channel, extra)
    return findings


def _longest(book: SignBook, plan: Plan, lang: str, route: str) -> str:
    """The longest name the reply may give a reported sign on this route."""
    if route == TEAM:
        return ""
    names = [item.texts[lang].sms for item in plan.red_flag_items if item.route == route]
    if route == Route.EMERGENCY.value:
        names += [sign.name(lang) for sign in book.general]
    return max(names, key=len, default="")


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
