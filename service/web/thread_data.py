"""Read model for a patient's conversation: what was sent and what they wrote, in time order.

Outbound messages that left (or were tried, or are a person's reply on its way) and the
patient's replies interleave, each reply with its inbox item and the alerts or tasks it
opened. A reply from a number the patient shares with others, not attributed yet, shows
in each of their threads until staff say whose it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from service.db.models import Alert, InboundMessage, Message, Patient, ReplyCandidate, ReplyItem
from service.domain import MessageKind, MessageStatus

# Planned messages still waiting are the timeline's business, not the conversation's.
_NOT_YET = (MessageStatus.SCHEDULED, MessageStatus.CANCELLED, MessageStatus.SKIPPED)
THREAD_LIMIT = 60  # the patient page; the timeline pages through everything


@dataclass
class ThreadEntry:
    at: datetime
    message: Message | None = None
    reply: InboundMessage | None = None
    item: ReplyItem | None = None
    alerts: list[Alert] = field(default_factory=list)

    @property
    def unattributed(self) -> bool:
        return self.item is not None and self.item.patient_id is None


def conversation(session: Session, patient: Patient) -> list[ThreadEntry]:
    """The patient's thread, oldest first (the most recent THREAD_LIMIT entries)."""
    entries = [ThreadEntry(at=m.sent_at or m.due_at, message=m) for m in _sent(session, patient)]
    replies = _replies(session, patient)
    ids = [r.id for r in replies if r.id is not None]
    items = _items(session, patient, ids)
    alerts = _alerts(session, patient, ids)
    for reply in replies:
        entries.append(ThreadEntry(at=reply.received_at, reply=reply, item=items.get(reply.id or 0),
                                   alerts=alerts.get(reply.id or 0, [])))  # fmt: skip
    entries.sort(key=lambda entry: entry.at)
    return entries[-THREAD_LIMIT:]


def _sent(session: Session, patient: Patient) -> list[Message]:
    left = col(Message.status).not_in([s.value for s in _NOT_YET])
    staff = col(Message.kind) == MessageKind.STAFF_REPLY.value
    query = select(Message).where(Message.patient_id == patient.id, or_(left, staff))
    return list(session.exec(query.order_by(col(Message.id).desc()).limit(THREAD_LIMIT)))


def _replies(session: Session, patient: Patient) -> list[InboundMessage]:
    shared = (
        select(ReplyItem.inbound_id)
        .join(ReplyCandidate, col(ReplyCandidate.reply_id) == col(ReplyItem.id))
        .where(
            ReplyCandidate.patient_id == patient.id,
            col(ReplyItem.patient_id).is_(None),
            ReplyItem.clinic_id == patient.clinic_id,
        )
    )
    attributed = select(ReplyItem.inbound_id).where(ReplyItem.patient_id == patient.id)
    query = select(InboundMessage).where(
        or_(
            col(InboundMessage.patient_id) == patient.id,
            col(InboundMessage.id).in_(shared),
            col(InboundMessage.id).in_(attributed),
        )
    )
    return list(session.exec(query.order_by(col(InboundMessage.id).desc()).limit(THREAD_LIMIT)))


def _items(session: Session, patient: Patient, ids: list[int]) -> dict[int, ReplyItem]:
    if not ids:
        return {}
    query = select(ReplyItem).where(
        col(ReplyItem.inbound_id).in_(ids), ReplyItem.clinic_id == patient.clinic_id
    )
    return {item.inbound_id: item for item in session.exec(query)}


def _alerts(session: Session, patient: Patient, ids: list[int]) -> dict[int, list[Alert]]:
    found: dict[int, list[Alert]] = {}
    if not ids:
        return found
    query = select(Alert).where(
        col(Alert.inbound_id).in_(ids), Alert.clinic_id == patient.clinic_id
    )
    for alert in session.exec(query.order_by(col(Alert.id))):
        found.setdefault(alert.inbound_id or 0, []).append(alert)
    return found


def thread_actors(entries: list[ThreadEntry]) -> list[str | None]:
    """Who handled replies and who wrote staff replies, for showing their names."""
    labels: list[str | None] = []
    for entry in entries:
        if entry.item is not None:
            labels += [entry.item.handled_by, entry.item.assigned_by]
        if entry.message is not None:
            labels.append((entry.message.context or {}).get("sent_by"))
    return labels
