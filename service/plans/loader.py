"""Plan files to `Plan` values: YAML in, validated frozen dataclasses out. Pure.

The same `parse_plan` builds a plan from the files on disk and from the frozen copy a
pinned enrolment uses, so both always mean the same thing.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from service.domain import Channel, Priority
from service.plans.model import (
    CONDITIONS,
    DEFAULT_REPLY_WINDOW,
    Offset,
    Plan,
    PlanError,
    Step,
    parse_duration,
    parse_offset,
)
from service.plans.red_flags import (
    RedFlagItem,
    language_view,
    legacy_views,
    parse_red_flags,
)

CHANNEL_WORDS = {
    "sms": (Channel.SMS,),
    "email": (Channel.EMAIL,),
    "both": (Channel.SMS, Channel.EMAIL),
}
STEP_FIELDS = frozenset(
    {"key", "title", "when", "valid_for", "channels", "fallback", "priority", "repeat"}
    | {"condition", "expects_reply", "vars", "red_flags", "night", "true_until"}
)


class PlanDefinitionError(PlanError):
    """A plan file has one or more problems: `errors` holds (step key or None, message)."""

    def __init__(self, plan_key: str, errors: list[tuple[str | None, str]]) -> None:
        self.plan_key = plan_key
        self.errors = errors
        lines = [f"plan {plan_key!r}" + (f" step {s!r}" if s else "") + f": {m}" for s, m in errors]
        super().__init__("; ".join(lines))


def read_definition(path: Path) -> dict[str, Any]:
    """Read one plan file; the result is plain JSON-safe data (it is stored when pinned)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PlanError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PlanError(f"{path.name}: a plan file must be a mapping with key, version, steps")
    try:
        return dict(json.loads(json.dumps(data)))
    except (TypeError, ValueError) as exc:
        raise PlanError(f"{path.name}: values must be plain text or numbers ({exc})") from exc


def collect_templates(messages_dir: Path, plan_key: str) -> dict[str, str]:
    """The plan's own templates plus the shared partials, by name relative to messages/."""
    found: dict[str, str] = {}
    for folder in (messages_dir / plan_key, messages_dir / "_partials"):
        for path in sorted(folder.glob("*.j2")) if folder.is_dir() else []:
            found[path.relative_to(messages_dir).as_posix()] = path.read_text(encoding="utf-8")
    return found


def plan_sha256(definition: Mapping[str, Any], templates: Mapping[str, str]) -> str:
    blob = json.dumps(
        {"definition": definition, "templates": templates},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def parse_plan(definition: Mapping[str, Any], templates: Mapping[str, str]) -> Plan:
    """Validate a plan definition; raise PlanDefinitionError listing every problem."""
    key = str(definition.get("key") or "?")
    errors: list[tuple[str | None, str]] = []
    header = _header(definition, errors)
    steps = _steps(definition.get("steps"), errors)
    languages = header["languages"]
    legacy = legacy_views(definition.get("red_flags"), languages)
    items = () if legacy else parse_red_flags(definition.get("red_flags"), languages, errors)
    _check_step_flags(steps, items, errors)
    if errors:
        raise PlanDefinitionError(key, errors)
    return Plan(
        steps=tuple(steps),
        templates=dict(templates),
        sha256=plan_sha256(definition, templates),
        red_flag_items=items,
        red_flags=legacy or {lang: language_view(items, lang) for lang in languages},
        definition=dict(definition),
        **header,
    )


def _header(data: Mapping[str, Any], errors: list[tuple[str | None, str]]) -> dict[str, Any]:
    key, version = data.get("key"), data.get("version")
    if not isinstance(key, str) or not key.replace("_", "").isalnum():
        errors.append((None, "key: must be a word such as 'thread_lift'"))
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        errors.append((None, "version: must be a whole number from 1"))
    languages = data.get("languages") or ["en"]
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        errors.append((None, "languages: must be a list such as [en, es]"))
        languages = ["en"]
    return {
        "key": str(key),
        "version": version if isinstance(version, int) else 0,
        "title": str(data.get("title") or key),
        "procedure": str(data.get("procedure") or key),
        "languages": tuple(languages),
        "reply_window": _reply_window(data.get("reply_window"), errors),
    }


def _reply_window(raw: Any, errors: list[tuple[str | None, str]]) -> datetime.timedelta:
    """How long after a message a reply from a shared number is taken to answer it."""
    if raw is None:
        return DEFAULT_REPLY_WINDOW
    try:
        return parse_duration(str(raw))
    except PlanError as exc:
        errors.append((None, f"reply_window: {exc}"))
        return DEFAULT_REPLY_WINDOW


def _steps(raw: Any, errors: list[tuple[str | None, str]]) -> list[Step]:
    if not isinstance(raw, list) or not raw:
        errors.append((None, "steps: a plan needs a list of steps"))
        return []
    steps: list[Step] = []
    seen: set[str] = set()
    for number, item in enumerate(raw, start=1):
        name = item.get("key") if isinstance(item, dict) else None
        label = str(name) if name else f"#{number}"
        if name in seen:
            errors.append((label, "duplicate step key (each step key must be unique)"))
            continue
        seen.add(str(name))
        try:
            steps.append(parse_step(item))
        except PlanError as exc:
            errors.append((label, str(exc)))
    return steps


def parse_step(item: Any) -> Step:
    if not isinstance(item, dict):
        raise PlanError("a step must be a mapping with key, when, valid_for, channels")
    unknown = sorted(set(item) - STEP_FIELDS)
    if unknown:
        raise PlanError(f"unknown field(s) {', '.join(unknown)}")
    key = item.get("key")
    if not isinstance(key, str) or not key.replace("_", "").isalnum():
        raise PlanError("key: must be a word such as 'day1_care'")
    channels, fallback = _channels(item.get("channels"), item.get("fallback"))
    every, until = _repeat(item.get("repeat"))
    flags, why = _step_flags(item.get("red_flags"))
    night = _night(item.get("night"))
    offset = _field(item, "when", parse_offset)
    priority = _priority(item.get("priority", "routine"))
    if night is not None and (priority is not Priority.SAFETY or offset.calendar_days != 0):
        raise PlanError("night: only the first safety message on day 0 may declare its night")
    return Step(
        key=key,
        offset=offset,
        valid_for=_field(item, "valid_for", parse_duration),
        channels=channels,
        fallback=fallback,
        priority=priority,
        repeat_every=every,
        repeat_until=until,
        condition=_condition(item.get("condition")),
        expects_reply=bool(item.get("expects_reply", False)),
        vars=_vars(item.get("vars")),
        title=str(item.get("title") or key),
        red_flags=flags,
        red_flags_why=why,
        night=night,
        true_until=_field(item, "true_until", parse_offset) if "true_until" in item else None,
    )


def _field(item: Mapping[str, Any], name: str, parse: Any) -> Any:
    if name not in item:
        raise PlanError(f"{name}: missing")
    try:
        return parse(item[name])
    except PlanError as exc:
        raise PlanError(f"{name}: {exc}") from exc


def _channels(raw: Any, fallback: Any) -> tuple[tuple[Channel, ...], Channel | None]:
    if raw not in CHANNEL_WORDS:
        raise PlanError(f"channels: unknown channel {raw!r} (use sms, email or both)")
    channels = CHANNEL_WORDS[raw]
    if fallback is None:
        return channels, None
    if fallback not in ("sms", "email") or len(channels) != 1 or fallback == raw:
        raise PlanError(f"fallback: {fallback!r} must be the other channel of a one-channel step")
    return channels, Channel(fallback)


def _repeat(raw: Any) -> tuple[Offset | None, Offset | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, dict) or set(raw) != {"every", "until"}:
        raise PlanError("repeat: needs both 'every' and 'until', e.g. {every: 3d, until: 14d}")
    every = parse_offset(raw["every"])
    if every.at is not None or every.nominal_days <= 0:
        raise PlanError("repeat.every: must be a positive interval without 'at'")
    return every, parse_offset(raw["until"])


def _priority(raw: Any) -> Priority:
    if raw not in (Priority.ROUTINE.value, Priority.SAFETY.value):
        raise PlanError(f"priority: {raw!r} must be routine or safety")
    return Priority(raw)


def _condition(raw: Any) -> str | None:
    if raw is not None and raw not in CONDITIONS:
        raise PlanError(f"condition: {raw!r} must be one of {', '.join(sorted(CONDITIONS))}")
    return None if raw is None else str(raw)


def _vars(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PlanError("vars: must be a mapping of name: value")
    return {str(k): str(v) for k, v in raw.items()}


def _night(raw: Any) -> tuple[datetime.time, datetime.time] | None:
    """`night: "23:00-07:00"`: the hours this step may not use (start before end wraps)."""
    if raw is None:
        return None
    try:
        start, end = (datetime.time.fromisoformat(part.strip()) for part in str(raw).split("-"))
    except ValueError:
        raise PlanError(f"night: {raw!r} must be HH:MM-HH:MM, e.g. 23:00-07:00") from None
    return start, end


def _step_flags(raw: Any) -> tuple[tuple[str, ...] | None, str]:
    """`red_flags: {items: [vision, skin_colour], why: "..."}` on a step."""
    if raw is None:
        return None, ""
    if not isinstance(raw, dict) or set(raw) != {"items", "why"}:
        raise PlanError("red_flags: needs items (a list of warning-sign keys) and why")
    items, why = raw["items"], raw["why"]
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise PlanError("red_flags.items: a list of warning-sign keys")
    if not isinstance(why, str) or not why.strip():
        raise PlanError("red_flags.why: say why this step carries these signs and not the others")
    return tuple(items), why.strip()


def _check_step_flags(
    steps: list[Step], items: tuple[RedFlagItem, ...], errors: list[tuple[str | None, str]]
) -> None:
    known = {item.key for item in items}
    for step in steps:
        unknown = [key for key in step.red_flags or () if key not in known]
        if unknown and known:
            errors.append((step.key, f"red_flags.items: unknown warning sign(s) {unknown}"))
