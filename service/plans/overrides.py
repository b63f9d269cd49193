"""A clinic's own wording for a plan's messages: which texts it may replace, what a
replacement may contain, and the plan it makes. Pure.

An override replaces the template of one step on one channel in one language
(`<plan>/<step>.<channel>.<lang>.j2`, the name `template_name` gives). The clinic's text
is a Jinja2 template like the plan's own, rendered in the same sandboxed, strict
environment (`service.rendering`), and it is held to a smaller language than the files a
developer reviews: variables the message context defines, `{% if %}`, `{% for %}` over
the warning-sign lists, a few filters, `{% include %}` of the shared partials and, in an
email, the `subject` and `text` blocks. Calls, arithmetic, macros, imports and
attribute access beyond a loop item are refused, so a text can neither reach Python
objects (the sandbox already forbids that) nor make rendering slow or huge.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, meta, nodes

from service.domain import Channel
from service.plans.model import Plan, PlanError, Step, template_name
from service.rendering import make_environment, message_context

SOURCE_MAX = 4000  # characters: an email body is ~1,500; an SMS under 300
LOOP_DEPTH_MAX = 2
FILTERS = frozenset(
    {"capitalize", "count", "default", "first", "join", "last", "length", "list", "lower"}
    | {"map", "title", "trim", "upper"}
)
TESTS = frozenset({"defined", "undefined", "none", "string", "number", "sequence"})
# The values every step template is given besides the message context and step vars.
STEP_VALUES = frozenset({"plan_title", "step_key", "red_flags", "red_flag_routes"})
SUMMARY = "red_flags_summary"
_ANY_TIME = datetime.datetime(2026, 1, 1, 10, 0, tzinfo=datetime.UTC)
_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name,
    nodes.If, nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And, nodes.Or,
    nodes.Not, nodes.Concat, nodes.Filter, nodes.Test, nodes.For, nodes.Include,
    nodes.Block, nodes.Assign, nodes.Getattr, nodes.Keyword, nodes.Tuple, nodes.List,
)  # fmt: skip


class OverrideError(PlanError):
    """A text cannot be an override of this plan (no such step, channel or language)."""


@dataclass(frozen=True)
class Slot:
    """One message a clinic may reword: a step on one channel in one language."""

    step: Step
    channel: Channel
    language: str
    name: str  # the template it replaces


def slots(plan: Plan) -> list[Slot]:
    """Every message of the plan that has a template, in plan order."""
    found = []
    for step in plan.steps:
        channels = [*step.channels, *([step.fallback] if step.fallback else [])]
        for channel in channels:
            for language in plan.languages:
                name = template_name(plan.key, step.key, channel, language)
                if name in plan.templates:
                    found.append(Slot(step, channel, language, name))
    return found


def slot_of(plan: Plan, step_key: str, channel: str, language: str) -> Slot:
    """The slot for (step, channel, language), or OverrideError naming what is unknown."""
    for slot in slots(plan):
        if (slot.step.key, slot.channel.value, slot.language) == (step_key, channel, language):
            return slot
    if step_key not in {step.key for step in plan.steps}:
        raise OverrideError(f"step: plan {plan.key!r} has no step {step_key!r}")
    if language not in plan.languages:
        raise OverrideError(f"language: plan {plan.key!r} has no messages in {language!r}")
    raise OverrideError(f"channel: step {step_key!r} sends no {channel!r} message")


def slot_named(plan: Plan, name: str) -> Slot:
    """The slot whose template is `name` (`<plan>/<step>.<channel>.<lang>.j2`)."""
    prefix = f"{plan.key}/"
    parts = name.removeprefix(prefix).split(".")
    if not name.startswith(prefix) or len(parts) != 4 or parts[3] != "j2":
        raise OverrideError(f"template: {name!r} is not <plan>/<step>.<channel>.<lang>.j2")
    return slot_of(plan, parts[0], parts[1], parts[2])


def known_variables(plan: Plan, step: Step) -> frozenset[str]:
    """The names a text of `step` may use."""
    context = message_context(
        patient_first_name="", clinic_name="", clinic_phone="", emergency_phone="",
        procedure_at_local=_ANY_TIME, language="en",
    )  # fmt: skip
    return frozenset(context) | STEP_VALUES | {SUMMARY} | frozenset(step.vars)


def check_source(plan: Plan, slot: Slot, source: str) -> list[str]:
    """What stops `source` being the text of `slot` (empty: it may be rendered)."""
    if not source.strip():
        return ["the text is empty (to use the plan's text, remove the override)"]
    if len(source) > SOURCE_MAX:
        return [f"the text is {len(source)} characters; at most {SOURCE_MAX}"]
    control = sorted({f"U+{ord(ch):04X}" for ch in source if ord(ch) < 32 and ch not in "\n\r\t"})
    if control:
        return [f"the text contains control characters ({', '.join(control)}): remove them"]
    try:
        tree = make_environment(None).parse(source)
    except TemplateSyntaxError as exc:
        return [f"line {exc.lineno}: {exc.message or 'template syntax error'}"]
    problems = list(_construct_problems(plan, slot, tree))
    unknown = sorted(meta.find_undeclared_variables(tree) - known_variables(plan, slot.step))
    if unknown:
        names = ", ".join("{{ " + name + " }}" for name in unknown)
        problems.append(
            f"undefined variable(s) {names}: use only the plan's placeholders "
            "(patient_first_name, clinic_name, clinic_phone, emergency_phone, "
            f"procedure_date, {SUMMARY}...)"
        )
    return problems


def _construct_problems(plan: Plan, slot: Slot, tree: nodes.Template) -> Iterator[str]:
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _NODES):
            yield f"line {node.lineno}: {_describe(node)} is not allowed in a clinic's text"
        elif isinstance(node, nodes.Filter) and node.name not in FILTERS:
            yield f"line {node.lineno}: the filter {node.name!r} is not allowed"
        elif isinstance(node, nodes.Test) and node.name not in TESTS:
            yield f"line {node.lineno}: the test {node.name!r} is not allowed"
        elif isinstance(node, nodes.Include):
            yield from _include_problems(plan, node)
        elif isinstance(node, nodes.Block):
            yield from _block_problems(slot, node)
        elif isinstance(node, nodes.For) and not isinstance(node.iter, nodes.Name | nodes.Getattr):
            yield f"line {node.lineno}: a loop may only go over a list the message is given"
        elif isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            yield f"line {node.lineno}: {node.attr!r} cannot be read"
    if _loop_depth(tree) > LOOP_DEPTH_MAX:
        yield f"loops nest at most {LOOP_DEPTH_MAX} deep"
    if slot.channel is Channel.EMAIL:
        names = {block.name for block in tree.find_all(nodes.Block)}
        missing = [name for name in ("subject", "text") if name not in names]
        if missing:
            yield f"an email needs the block(s) {', '.join(missing)} ({{% block subject %}}...)"


def _include_problems(plan: Plan, node: nodes.Include) -> Iterator[str]:
    target = node.template
    name = target.value if isinstance(target, nodes.Const) else None
    if not isinstance(name, str) or not name.startswith("_partials/"):
        yield f'line {node.lineno}: only the shared parts ("_partials/...") may be included'
    elif name not in plan.templates:
        yield f"line {node.lineno}: there is no shared part {name!r}"


def _block_problems(slot: Slot, node: nodes.Block) -> Iterator[str]:
    if slot.channel is not Channel.EMAIL:
        yield f"line {node.lineno}: a text message has no blocks (only an email has)"
    elif node.name not in ("subject", "text"):
        yield f"line {node.lineno}: an email has only the blocks subject and text"


def _loop_depth(node: nodes.Node) -> int:
    inner = max((_loop_depth(child) for child in node.iter_child_nodes()), default=0)
    return inner + isinstance(node, nodes.For)


def _describe(node: nodes.Node) -> str:
    words = {
        "Call": "calling a function or method", "Macro": "a macro", "CallBlock": "a call block",
        "Extends": "extends", "Import": "import", "FromImport": "import", "Getitem": "[...]",
        "With": "with", "FilterBlock": "a filter block", "ExprStmt": "do",
        "Dict": "a dictionary", "Slice": "a slice",
    }  # fmt: skip
    name = type(node).__name__
    return words.get(name, f"arithmetic ({name})" if isinstance(node, nodes.BinExpr) else name)


def content_sha256(plan_sha256: str, overrides: Mapping[str, str]) -> str:
    """The content a clinic version stands for: the exact plan and its replacements."""
    blob = json.dumps({"plan": plan_sha256, "overrides": dict(overrides)}, sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"))  # fmt: skip
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def apply_overrides(plan: Plan, overrides: Mapping[str, str]) -> Plan:
    """The plan as the clinic's patients receive it (the plan itself when none)."""
    if not overrides:
        return plan
    unknown = sorted(set(overrides) - set(plan.templates))
    if unknown:
        raise OverrideError(f"template: plan {plan.key!r} has no message {unknown[0]!r}")
    templates = {**plan.templates, **overrides}
    return dataclasses.replace(
        plan, templates=templates, sha256=content_sha256(plan.sha256, overrides)
    )
