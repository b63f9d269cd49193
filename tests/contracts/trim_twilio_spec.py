"""Cut Twilio's OpenAPI description down to what the contract tests exercise.

The vendored `twilio_api_v2010.messages.json` is produced from twilio-oai's
`spec/json/twilio_api_v2010.json` by this script, so anyone can check (or redo) the cut:

    python tests/contracts/trim_twilio_spec.py path/to/twilio_api_v2010.json \
        > tests/contracts/twilio/twilio_api_v2010.messages.json

What it keeps: every path under `/2010-04-01/Accounts/{AccountSid}/Messages` (create,
list, fetch, update, delete a Message, and its Media and Feedback sub-resources), every
component those paths reference, directly or through other components, the security
schemes, and the document's own metadata (`openapi`, `info`, `servers`, `security`)
unchanged. Nothing inside a kept object is edited. Standard library only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

KEEP_PREFIX = "/2010-04-01/Accounts/{AccountSid}/Messages"
REF_PREFIX = "#/components/"


def refs_in(node: Any) -> Iterator[str]:
    """Every `$ref` string anywhere inside a JSON value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs_in(item)


def resolve(spec: dict[str, Any], ref: str) -> Any:
    if not ref.startswith(REF_PREFIX):
        raise ValueError(f"only local component references are supported, got {ref}")
    kind, name = ref.removeprefix(REF_PREFIX).split("/", 1)
    return spec["components"][kind][name]


def referenced_components(spec: dict[str, Any], roots: Any) -> set[str]:
    """The transitive closure of component references reachable from `roots`."""
    seen: set[str] = set()
    pending = list(refs_in(roots))
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        pending.extend(refs_in(resolve(spec, ref)))
    return seen


def trim(spec: dict[str, Any]) -> dict[str, Any]:
    paths = {path: item for path, item in spec["paths"].items() if path.startswith(KEEP_PREFIX)}
    components: dict[str, dict[str, Any]] = {
        "securitySchemes": spec["components"]["securitySchemes"]
    }
    for ref in sorted(referenced_components(spec, paths)):
        kind, name = ref.removeprefix(REF_PREFIX).split("/", 1)
        components.setdefault(kind, {})[name] = resolve(spec, ref)
    used_tags = {tag for item in paths.values() for op in item.values()
                 if isinstance(op, dict) for tag in op.get("tags", [])}  # fmt: skip
    trimmed = {key: value for key, value in spec.items() if key not in ("paths", "components")}
    trimmed["tags"] = [tag for tag in spec.get("tags", []) if tag["name"] in used_tags]
    trimmed["paths"] = paths
    trimmed["components"] = components
    return trimmed


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: trim_twilio_spec.py UPSTREAM.json > TRIMMED.json", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as upstream:
        spec = json.load(upstream)
    json.dump(trim(spec), sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
