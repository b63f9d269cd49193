"""Errors of the enrolment use cases (kept apart so every module can raise them)."""

from __future__ import annotations


class EnrolError(ValueError):
    """Invalid enrolment input (`field` names it) or a conflict (`conflict=True`: 409)."""

    def __init__(self, field: str, message: str, *, conflict: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.conflict = conflict
