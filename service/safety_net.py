"""The automatic reply to an urgent report, fitted to the procedure (pure, no I/O but
reading `templates/warning_signs.yaml`).

The reply names the warning signs of the patient's plan and never tells a patient to
wait for a callback about a sign the plan routes to the emergency number: when the
reported sign is one of those, the reply says to call the emergency number now; when
it is one to call the clinic about at once, it says that; otherwise it says the team was
alerted and lists the plan's emergency signs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from service.inbound.compliance import tokens

FILE = "warning_signs.yaml"
DEFAULT = "_default"
ROUTES = ("emergency", "clinic_now")
TEAM = "team"  # no route known for what was reported
_AND_OR = {"en": "or", "es": "o"}
_AND = {"en": "and", "es": "y"}


@dataclass(frozen=True)
class Sign:
    key: str
    match: tuple[tuple[str, ...], ...]  # each: word beginnings that must all be present
    text: Mapping[str, str]  # language -> how the reply names it

    def seen_in(self, phrases: Iterable[str]) -> bool:
        for phrase in phrases:
            words = tokens(phrase)
            if any(all(any(w.startswith(part) for w in words) for part in pattern)
                   for pattern in self.match):  # fmt: skip
                return True
        return False


@dataclass(frozen=True)
class SignBook:
    signs: Mapping[str, Sign]
    routes: Mapping[str, Mapping[str, tuple[str, ...]]]  # plan -> route -> sign keys

    def route_of(self, plan_key: str, sign: str) -> str | None:
        for key in (plan_key, DEFAULT):
            for route in ROUTES:
                if sign in self.routes.get(key, {}).get(route, ()):
                    return route
        return None

    def signs_for(self, plan_key: str | None, route: str) -> list[Sign]:
        lists = self.routes.get(plan_key or DEFAULT) or self.routes[DEFAULT]
        return [self.signs[key] for key in lists.get(route, ())]


class SignBookError(ValueError):
    """The warning-sign file is malformed; the message says where."""


def parse_book(data: Any) -> SignBook:
    if not isinstance(data, dict) or not isinstance(data.get("signs"), dict):
        raise SignBookError(f"{FILE}: needs 'signs' and 'plans' mappings")
    signs = {key: _sign(key, value) for key, value in data["signs"].items()}
    plans = data.get("plans")
    if not isinstance(plans, dict) or DEFAULT not in plans:
        raise SignBookError(f"{FILE}: 'plans' needs a {DEFAULT} entry")
    routes = {str(plan): _routes(str(plan), lists, signs) for plan, lists in plans.items()}
    return SignBook(signs=signs, routes=routes)


def _sign(key: str, value: Any) -> Sign:
    if not isinstance(value, dict) or not isinstance(value.get("match"), list):
        raise SignBookError(f"{FILE}: sign {key!r} needs a 'match' list")
    texts = {lang: str(text) for lang, text in value.items() if lang != "match"}
    match = tuple(tuple(str(entry).lower().split()) for entry in value["match"])
    return Sign(key=str(key), match=match, text=texts)


def _routes(plan: str, lists: Any, signs: Mapping[str, Sign]) -> dict[str, tuple[str, ...]]:
    if not isinstance(lists, dict) or set(lists) - set(ROUTES):
        raise SignBookError(f"{FILE}: plan {plan!r}: routes are {', '.join(ROUTES)}")
    routes = {route: tuple(str(s) for s in lists.get(route) or ()) for route in ROUTES}
    unknown = sorted({s for keys in routes.values() for s in keys} - set(signs))
    if unknown:
        raise SignBookError(f"{FILE}: plan {plan!r}: unknown sign(s) {', '.join(unknown)}")
    return routes


@lru_cache(maxsize=8)
def _load(path: str, _mtime_ns: int) -> SignBook:
    try:
        return parse_book(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise SignBookError(f"{FILE}: not valid YAML: {exc}") from exc


def load_book(templates_dir: Path) -> SignBook:
    """The templates' warning-sign book (re-read when the file changes)."""
    path = templates_dir / FILE
    return _load(str(path), path.stat().st_mtime_ns)


def reply_context(
    book: SignBook, *, plan_key: str | None, matches: Sequence[str], language: str
) -> dict[str, str]:
    """What the `urgent_safety_net` templates need: the route, the reported sign and the
    plan's signs by route, named in `language`."""
    plan = plan_key if plan_key is not None and plan_key in book.routes else DEFAULT
    reported = [s for s in book.signs.values() if s.seen_in(matches)]
    routed = [(book.route_of(plan, s.key), s) for s in reported]
    route = next((wanted for wanted in ROUTES if any(r == wanted for r, _ in routed)), TEAM)
    signs = [_name(s, language) for r, s in routed if r == route]
    return {
        "route": route,
        "reported_sign": f" {_AND.get(language, 'and')} ".join(signs),
        "emergency_signs": _listed(book.signs_for(plan, "emergency"), language),
        "clinic_now_signs": _listed(book.signs_for(plan, "clinic_now"), language),
    }


def _name(sign: Sign, language: str) -> str:
    return sign.text.get(language) or sign.text.get("en") or sign.key


def _listed(signs: Sequence[Sign], language: str) -> str:
    names = [_name(sign, language) for sign in signs]
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} {_AND_OR.get(language, 'or')} {names[-1]}"
