"""Compose-file variable interpolation, as `docker compose` does it before validating.

Supported: `$$` (a literal `$`), `$NAME`, `${NAME}`, `${NAME:-default}` / `${NAME-default}`
(default when unset or empty / unset), `${NAME:?message}` / `${NAME?message}` (an error
when unset or empty / unset), `${NAME:+value}` / `${NAME+value}`. Nested expressions are
not supported: the file does not use them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_EXPRESSION = re.compile(
    r"\$\$"
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariable(ValueError):
    """A `${NAME:?message}` whose variable is not set: compose refuses to start."""


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, str):
        return _EXPRESSION.sub(lambda match: _substitute(match, env), node)
    return node


def _substitute(match: re.Match[str], env: Mapping[str, str]) -> str:
    if match.group(0) == "$$":
        return "$"
    name = match.group("name") or match.group("bare")
    op, arg = match.group("op") or "", match.group("arg") or ""
    value = env.get(name)
    missing = value is None or (op.startswith(":") and value == "")
    if op.endswith("-"):
        return arg if missing else str(value)
    if op.endswith("?"):
        if missing:
            raise MissingVariable(f"required variable {name} is missing a value: {arg}")
        return str(value)
    if op.endswith("+"):
        return "" if missing else arg
    return value or ""
