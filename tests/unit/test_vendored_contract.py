"""The vendored Twilio OpenAPI file is complete and exactly what the trim script makes."""

from __future__ import annotations

import json

from service.config import REPO_ROOT
from tests.contracts.trim_twilio_spec import KEEP_PREFIX, referenced_components, resolve, trim

VENDORED = REPO_ROOT / "tests" / "contracts" / "twilio"
SPEC = json.loads((VENDORED / "twilio_api_v2010.messages.json").read_text())


def test_every_reference_in_the_vendored_file_resolves_inside_it():
    refs = referenced_components(SPEC, SPEC["paths"])
    assert refs and all(resolve(SPEC, ref) for ref in refs)


def test_the_vendored_file_is_a_fixed_point_of_the_trim_script():
    assert trim(SPEC) == SPEC


def test_it_keeps_the_message_paths_the_adapter_calls():
    messages = SPEC["paths"][KEEP_PREFIX + ".json"]
    assert {"post", "get"} <= set(messages)
    assert all(path.startswith(KEEP_PREFIX) for path in SPEC["paths"])


def test_the_licence_notices_travel_with_the_file():
    assert "MIT License" in (VENDORED / "LICENSE").read_text()
    assert SPEC["info"]["license"]["name"] == "Apache 2.0"  # the file's own field, unchanged
    assert "2.6.7" in (VENDORED / "README.md").read_text()
