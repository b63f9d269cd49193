"""What the Schemathesis sweeps check, shared by tests/integration/test_api_fuzz.py and
bench/security.py: no server error, every answer as documented (status code, content
type, headers, body schema), and no operation answering without its key. Business rules
may refuse schema-valid data (a 422 naming the field), so "positive data accepted" is
not checked."""

from __future__ import annotations

from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    ignored_auth,
]
