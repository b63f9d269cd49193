"""A plan's warning signs: each one with its route (what the patient must do) per language.

Every red-flag item declares one route, and the route fixes how urgently the clinic must
hear of it, so a message can never say "call us" for a sign that needs the emergency
number:

- `emergency`: call the emergency number now (trouble breathing, a change in vision...);
- `clinic_now`: call the clinic now, the emergency number if nobody answers (skin that
  turns white after filler, bleeding that will not stop...);
- `tell_us`: call the clinic today (a drooping eyelid after Botox, pus at a wound...).

Each item is written per language: `text` for the full list (email, the clinician's
export), `sms` for the short SMS form, and `terms`, the words by which the linter finds
the sign in any message (matched without case or accents, as SMS folds them). Pure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any


class Route(StrEnum):
    EMERGENCY = "emergency"
    CLINIC_NOW = "clinic_now"
    TELL_US = "tell_us"


ROUTE_ORDER = (Route.EMERGENCY, Route.CLINIC_NOW, Route.TELL_US)
# The least a clinic must treat a patient's report of the sign as (a triage label).
ROUTE_SEVERITY = {Route.EMERGENCY: "urgent", Route.CLINIC_NOW: "urgent", Route.TELL_US: "concern"}
LIST_JOIN = {"en": "or", "es": "o"}
# Triage labels that put a reply before a person; any other label asks nobody to read it.
_LABEL_RANK = {"concern": 1, "urgent": 2}


def label_meets(label: str, severity: str) -> bool:
    """True when a reply labelled `label` is handled at least as `severity` demands."""
    return _LABEL_RANK.get(label, 0) >= _LABEL_RANK[severity]


@dataclass(frozen=True)
class SignText:
    """One warning sign in one language."""

    text: str  # a full line for the email list and the clinician's export
    sms: str  # the short form the SMS summary lists
    terms: tuple[str, ...]  # how the linter recognises the sign in a message


@dataclass(frozen=True)
class RedFlagItem:
    key: str
    route: Route
    texts: Mapping[str, SignText]  # language -> text
    concepts: tuple[str, ...] = ()  # triage concepts the sign maps to (may be empty)

    @property
    def severity(self) -> str:
        """The triage label a patient repeating this sign must get at least."""
        return ROUTE_SEVERITY[self.route]

    def matches(self, folded_text: str, language: str) -> bool:
        """True when `folded_text` (see `fold`) mentions this sign in `language`."""
        sign = self.texts.get(language)
        return sign is not None and any(_term(t).search(folded_text) for t in sign.terms)


@dataclass(frozen=True)
class RouteGroup:
    """The items of one route in one language, ready for a template."""

    route: str
    keys: tuple[str, ...]
    items: tuple[str, ...]  # full texts
    forms: tuple[str, ...]  # the short SMS forms
    sms: str  # the short forms joined: "a, b or c"


@dataclass(frozen=True)
class RedFlags:
    """One language's view of the plan's warning signs, grouped by route."""

    language: str
    groups: tuple[RouteGroup, ...]
    items: tuple[str, ...] = field(default=())  # every full text, in route order
    # Plans written before items had routes (version 1, pinned in a database) gave one
    # hand-written summary line; their templates still render it as they were signed.
    legacy_summary: str | None = None

    def only(self, keys: Sequence[str] | None) -> RedFlags:
        """The same view limited to `keys` (None: all)."""
        if keys is None:
            return self
        wanted = set(keys)
        rows = [
            (group.route, key, text)
            for group in self.groups
            for key, text in zip(group.keys, group.items, strict=True)
            if key in wanted
        ]
        forms = {
            key: form
            for group in self.groups
            for key, form in zip(group.keys, group.forms, strict=True)
        }
        return _view(self.language, rows, forms)


def fold(text: str) -> str:
    """Lower case without accents: "Llámenos" and "LLAMENOS" both become "llamenos"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=2048)
def _term(term: str) -> re.Pattern[str]:
    """A term as a whole word or phrase: "pus" is not found in "pustules"."""
    return re.compile(r"(?<![\w-])" + re.escape(fold(term)) + r"(?![\w-])")


def join_list(forms: Sequence[str], language: str) -> str:
    """ "a", "b or c", "d" -> "a; b or c; or d": semicolons, because a short form may
    hold its own "or" (in the language's word for "or")."""
    if len(forms) <= 1:
        return "".join(forms)
    word = LIST_JOIN.get(language, "or")
    return f"{'; '.join(forms[:-1])}; {word} {forms[-1]}"


def language_view(items: Sequence[RedFlagItem], language: str) -> RedFlags:
    rows = [(item.route, item.key, item.texts[language].text) for item in items]
    forms = {item.key: item.texts[language].sms for item in items}
    return _view(language, rows, forms)


def _view(
    language: str, rows: Sequence[tuple[str, str, str]], forms: Mapping[str, str]
) -> RedFlags:
    groups = []
    for route in ROUTE_ORDER:
        mine = [(key, text) for r, key, text in rows if r == route]
        if not mine:
            continue
        keys = tuple(key for key, _ in mine)
        short = tuple(forms[key] for key in keys)
        groups.append(
            RouteGroup(
                route=route.value,
                keys=keys,
                items=tuple(text for _, text in mine),
                forms=short,
                sms=join_list(short, language),
            )
        )
    ordered = tuple(text for group in groups for text in group.items)
    return RedFlags(language=language, groups=tuple(groups), items=ordered)


def legacy_views(raw: Any, languages: Sequence[str]) -> dict[str, RedFlags] | None:
    """The `{lang: {summary, items}}` form of plans pinned before routes existed, or None."""
    if not isinstance(raw, dict):
        return None
    views = {}
    for lang in languages:
        entry = raw.get(lang)
        if not isinstance(entry, dict) or not isinstance(entry.get("summary"), str):
            return None
        items = tuple(str(i) for i in entry.get("items") or ())
        views[lang] = RedFlags(lang, (), items, legacy_summary=entry["summary"].strip())
    return views


def parse_red_flags(
    raw: Any, languages: Sequence[str], errors: list[tuple[str | None, str]]
) -> tuple[RedFlagItem, ...]:
    """The plan's `red_flags:` list; problems are appended to `errors`."""
    if not isinstance(raw, list) or not raw:
        errors.append((None, "red_flags: the plan needs a list of warning signs (key, route, "
                             "and text, sms and terms per language)"))  # fmt: skip
        return ()
    items: list[RedFlagItem] = []
    seen: set[str] = set()
    for number, entry in enumerate(raw, start=1):
        try:
            item = _item(entry, languages)
        except ValueError as exc:
            errors.append((None, f"red_flags #{number}: {exc}"))
            continue
        if item.key in seen:
            errors.append((None, f"red_flags #{number}: duplicate key {item.key!r}"))
        seen.add(item.key)
        items.append(item)
    return tuple(items)


def _item(entry: Any, languages: Sequence[str]) -> RedFlagItem:
    if not isinstance(entry, dict):
        raise ValueError("each warning sign is a mapping with key, route and languages")
    key = entry.get("key")
    if not isinstance(key, str) or not key.replace("_", "").isalnum():
        raise ValueError("key: must be a word such as 'vision_change'")
    try:
        route = Route(str(entry.get("route")))
    except ValueError:
        choices = ", ".join(r.value for r in ROUTE_ORDER)
        raise ValueError(f"{key}: route {entry.get('route')!r} must be one of {choices}") from None
    unknown = sorted(set(entry) - {"key", "route", "concepts", *languages})
    if unknown:
        raise ValueError(f"{key}: unknown field(s) {', '.join(unknown)} (or a language the "
                         "plan does not list)")  # fmt: skip
    texts = {lang: _sign_text(key, lang, entry.get(lang)) for lang in languages}
    concepts = entry.get("concepts") or []
    if not isinstance(concepts, list):
        raise ValueError(f"{key}: concepts must be a list")
    return RedFlagItem(key, route, texts, tuple(str(c) for c in concepts))


def _sign_text(key: str, lang: str, raw: Any) -> SignText:
    if not isinstance(raw, dict):
        raise ValueError(f"{key}.{lang}: missing (text, sms and terms in this language)")
    text, sms, terms = raw.get("text"), raw.get("sms"), raw.get("terms")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{key}.{lang}.text: missing")
    if not isinstance(sms, str) or not sms.strip():
        raise ValueError(f"{key}.{lang}.sms: missing (the short form for SMS)")
    if not isinstance(terms, list) or not terms or not all(isinstance(t, str) for t in terms):
        raise ValueError(f"{key}.{lang}.terms: a list of words that name the sign")
    return SignText(text.strip(), sms.strip(), tuple(t.strip() for t in terms))
