"""Loading a record only if the viewer's clinic may see it (else 404, like a missing one)."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session, SQLModel

from service.db.models import Alert, Enrollment, Message, Patient, ReplyItem
from service.domain import ID_MAX
from service.web.deps import NotFound, Viewer

Row = TypeVar("Row", Patient, Enrollment, Alert, Message, ReplyItem)


def visible(session: Session, viewer: Viewer, model: type[Row], row_id: int) -> Row:
    row = session.get(model, row_id) if 1 <= row_id <= ID_MAX else None
    if row is None or not viewer.can_see(row.clinic_id):
        raise NotFound(f"There is no {_noun(model)} with that number in your clinic.")
    return row


def _noun(model: type[SQLModel]) -> str:
    nouns = {Patient: "patient", Enrollment: "enrolment", Alert: "alert", ReplyItem: "reply"}
    return nouns.get(model, "message")
