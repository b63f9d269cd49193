"""The automatic reply to an urgent report, fitted to the procedure. Pure.

A plan's red-flag items route each warning sign (`service.plans.red_flags`: emergency
number, clinic now, clinic today), and the reply follows the plan: the reported sign is
found by the items' terms in what triage matched, and

- a sign the plan routes to the emergency number gets "call it now", never "wait for
  our call" (the contradiction this module exists to prevent);
- a sign to call the clinic about now gets the clinic's number, and the emergency
  number if nobody answers;
- anything else gets "we have alerted the team", with the plan's emergency signs named.

A phrase no item of the plan knows is checked against the general signs of
`templates/warning_signs.yaml`: emergencies whatever the procedure (trouble breathing,
chest pain, fainting...). They are also what the reply names to a sender we cannot tie
to a plan, or for a plan that routes no sign to the emergency number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from service.plans.model import Plan
from service.plans.red_flags import Route, fold, join_list
from service.words import tokens

FILE = "warning_signs.yaml"
TEAM = "team"  # no sign routed to a call now: the team was alerted
VARIANTS = (Route.EMERGENCY.value, Route.CLINIC_NOW.value, TEAM)
_AND = {"en": "and", "es": "y"}


@dataclass(frozen=True)
class GeneralSign:
    """An emergency whatever the procedure."""

    key: str
    match: tuple[tuple[str, ...], ...]  # each: word beginnings that must all be present
    text: Mapping[str, str]  # language -> how the reply names it

    def seen_in(self, phrase: str) -> bool:
        words = tokens(phrase)
        return any(all(any(w.startswith(part) for w in words) for part in pattern)
                   for pattern in self.match)  # fmt: skip

    def name(self, language: str) -> str:
        return self.text.get(language) or self.text.get("en") or self.key


@dataclass(frozen=True)
class SignBook:
    general: tuple[GeneralSign, ...]

    def named(self, language: str) -> str:
        return join_list([sign.name(language) for sign in self.general], language)


class SignBookError(ValueError):
    """The warning-sign file is malformed; the message says where."""


def parse_book(data: Any) -> SignBook:
    if not isinstance(data, dict) or not isinstance(data.get("general"), list):
        raise SignBookError(f"{FILE}: needs a 'general' list of signs")
    return SignBook(general=tuple(_sign(entry) for entry in data["general"]))


def _sign(entry: Any) -> GeneralSign:
    key = entry.get("key") if isinstance(entry, dict) else None
    if not isinstance(key, str) or not isinstance(entry.get("match"), list):
        raise SignBookError(f"{FILE}: each general sign needs a key and a 'match' list")
    texts = {lang: str(text) for lang, text in entry.items() if lang not in ("key", "match")}
    match = tuple(tuple(str(words).lower().split()) for words in entry["match"])
    return GeneralSign(key=key, match=match, text=texts)


@lru_cache(maxsize=8)
def _load(path: str, _mtime_ns: int) -> SignBook:
    try:
        return parse_book(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise SignBookError(f"{FILE}: not valid YAML: {exc}") from exc


def load_book(templates_dir: Path) -> SignBook:
    """The templates' general signs (re-read when the file changes)."""
    path = templates_dir / FILE
    return _load(str(path), path.stat().st_mtime_ns)


def reply_context(
    book: SignBook, *, plan: Plan | None, matches: Sequence[str], language: str
) -> dict[str, str]:
    """What the `urgent_safety_net` templates need: the route taken, the reported sign,
    and the plan's emergency and clinic-now signs, named in `language`."""
    reported = [found for phrase in matches for found in _signs_in(book, plan, phrase, language)]
    route = next((v for v in VARIANTS if any(r == v for r, _ in reported)), TEAM)
    names = list(dict.fromkeys(name for r, name in reported if r == route))
    groups = _groups(plan, language)
    emergency = groups.get(Route.EMERGENCY.value) or book.named(language)
    return {
        "route": route,
        "reported_sign": f" {_AND.get(language, 'and')} ".join(names),
        "emergency_signs": emergency,
        "clinic_now_signs": groups.get(Route.CLINIC_NOW.value, ""),
    }


def _signs_in(
    book: SignBook, plan: Plan | None, phrase: str, language: str
) -> list[tuple[str, str]]:
    """(route, name) of the signs one matched phrase reports: the plan's items first (the
    plan routes its own signs), else the general emergencies."""
    folded = fold(phrase)
    items = [
        item
        for item in (plan.red_flag_items if plan else ())
        if any(item.matches(folded, lang) for lang in plan.languages)  # type: ignore[union-attr]
    ]
    if items:
        return [(_variant(item.route), _item_name(item.texts, language)) for item in items]
    return [(Route.EMERGENCY.value, s.name(language)) for s in book.general if s.seen_in(phrase)]


def _variant(route: Route) -> str:
    return TEAM if route == Route.TELL_US else route.value


def _item_name(texts: Mapping[str, Any], language: str) -> str:
    sign = texts.get(language) or next(iter(texts.values()))
    return str(sign.sms)


def _groups(plan: Plan | None, language: str) -> dict[str, str]:
    """The plan's short sign lists by route ("a; b or c"), in `language`."""
    if plan is None:
        return {}
    view = plan.red_flags.get(language) or next(iter(plan.red_flags.values()), None)
    return {group.route: group.sms for group in view.groups} if view else {}
