"""Read model for the replies inbox page: each reply with its patients and its alert."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import func
from sqlmodel import Session, col, select

from service.db.models import Alert, InboundMessage, Patient, ReplyItem
from service.inbox import list_replies
from service.inbox.items import ReplyStatus

_Row = TypeVar("_Row", Patient, Alert)
INBOX_LIMIT = 200  # as the alerts page: past this, handle replies to see the rest


@dataclass(frozen=True)
class ReplyCard:
    item: ReplyItem
    reply: InboundMessage
    patients: list[Patient]  # everyone it may be from, the attributed one first
    alert: Alert | None

    @property
    def patient(self) -> Patient | None:
        return self.patients[0] if self.item.patient_id is not None else None

    @property
    def shared(self) -> bool:
        """From a number several patients share, and not attributed yet."""
        return self.item.patient_id is None and len(self.patients) > 1


def reply_cards(
    session: Session, *, clinic_id: int | None, status: ReplyStatus = "unread"
) -> list[ReplyCard]:
    views, _ = list_replies(session, clinic_id=clinic_id, status=status, limit=INBOX_LIMIT)
    ids = {pid for view in views for pid in view.patient_ids}
    alert_ids = {view.item.alert_id for view in views if view.item.alert_id}
    patients = _by_id(session, Patient, ids)
    alerts = _by_id(session, Alert, alert_ids)
    return [
        ReplyCard(
            view.item,
            view.inbound,
            [patients[pid] for pid in view.patient_ids if pid in patients],
            alerts.get(view.item.alert_id or 0),
        )
        for view in views
    ]


def _by_id(session: Session, model: type[_Row], ids: set[int]) -> dict[int, _Row]:
    if not ids:
        return {}
    rows = session.exec(select(model).where(col(model.id).in_(sorted(ids))))
    return {row.id: row for row in rows if row.id is not None}


def unread_count(session: Session, *, clinic_id: int | None) -> int:
    query = select(func.count()).select_from(ReplyItem).where(col(ReplyItem.handled_at).is_(None))
    if clinic_id is not None:
        query = query.where(ReplyItem.clinic_id == clinic_id)
    return int(session.exec(query).one())


def signature(cards: list[ReplyCard]) -> str:
    """Changes whenever the list would look different, so the page swaps only then."""
    text = ";".join(
        f"{c.item.id}:{c.item.handled_at}:{c.item.patient_id}:{c.item.overdue_alert_id}"
        for c in cards
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]
