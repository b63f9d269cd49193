"""Error bodies as the OpenAPI documents them, and the responses each kind of route declares.

Every error is `{"detail": "..."}` except a 422, which names each bad field:
`{"detail": [{"field": "patient.phone", "msg": "...", "type": "...", "loc": [...]}]}`.
Routers declare the answers they can give (401 without a key, 403 for a role, 404 for
another clinic's or a missing record, 409 for a change that conflicts, 413, 503 when the
database did not save), so a client generated from the OpenAPI knows them all.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator


class ErrorBody(BaseModel):
    detail: str


class FieldError(BaseModel):
    field: str
    msg: str
    type: str
    loc: list[str | int]


class ValidationErrorBody(BaseModel):
    detail: list[FieldError]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorBody, "description": "A field is invalid: each one is named"},
}
NOT_SAVED: dict[int | str, dict[str, Any]] = {
    503: _error("The database did not save the change (nothing was changed): try again"),
}
# Routes behind an API key.
AUTHENTICATED: dict[int | str, dict[str, Any]] = {
    400: _error("The body could not be read as JSON (not UTF-8, or cut short)"),
    401: _error("No API key, or an unknown or revoked one"),
    403: _error("The key's role may not do this"),
    413: _error("The body is larger than the API accepts"),
    **INVALID,
    **NOT_SAVED,
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: _error("No such record in your clinic (another clinic's is answered the same)"),
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _error("The record's state does not allow this, or it changed meanwhile"),
}
# Signed webhooks.
WEBHOOK: dict[int | str, dict[str, Any]] = {
    403: _error("The signature or shared secret is missing or wrong"),
    413: _error("The body is larger than this webhook accepts"),
    **INVALID,
    **NOT_SAVED,
}


class Input(BaseModel):
    """A request body: every text field refuses a NUL by name (PostgreSQL cannot store one,
    and no name, reason or note has one)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value
