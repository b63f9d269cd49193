"""Read model for the alert inbox: open and acknowledged alerts, urgent first."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from sqlalchemy import case
from sqlmodel import Session, col, select

from service.alerts.facts import AlertFacts, alert_facts
from service.alerts.pages import household_of
from service.db.models import Alert, AuditLog, Clinic, InboundMessage, Message, Patient, ReplyItem
from service.db.types import utcnow
from service.domain import AlertSeverity, AlertStatus, MessageKind
from service.web.people import names_for

_RANK = case(
    (col(Alert.severity) == AlertSeverity.URGENT.value, 0),
    (col(Alert.severity) == AlertSeverity.CONCERN.value, 1),
    else_=2,
)
INBOX_LIMIT = 200  # an inbox longer than this is a different problem; the page says so


@dataclass(frozen=True)
class AlertRow:
    alert: Alert
    patient: Patient | None
    reply: InboundMessage | None
    clinic: Clinic | None = None
    facts: AlertFacts = field(default_factory=AlertFacts)
    pages: list[Message] = field(default_factory=list)  # who was paged, when, how it went
    answers: list[Message] = field(default_factory=list)  # the automatic reply the patient got
    household: list[Patient] = field(default_factory=list)  # a shared number not attributed


def inbox(session: Session, *, clinic_id: int | None) -> list[AlertRow]:
    """Unresolved alerts: urgent before concern before tasks; open (oldest first: the one
    waiting longest) before acknowledged (newest first)."""
    open_first = col(Alert.status) != AlertStatus.OPEN.value
    oldest_open = case((open_first, None), else_=col(Alert.created_at))
    stmt = (
        select(Alert, Patient, InboundMessage)
        .join(Patient, col(Patient.id) == col(Alert.patient_id), isouter=True)
        .join(InboundMessage, col(InboundMessage.id) == col(Alert.inbound_id), isouter=True)
        .where(col(Alert.status) != AlertStatus.RESOLVED.value)
        .order_by(
            _RANK, open_first, oldest_open, col(Alert.created_at).desc(), col(Alert.id).desc()
        )
        .limit(INBOX_LIMIT)
    )
    if clinic_id is not None:
        stmt = stmt.where(Alert.clinic_id == clinic_id)
    return with_details(session, [AlertRow(a, p, r) for a, p, r in session.exec(stmt)])


def with_details(session: Session, rows: list[AlertRow]) -> list[AlertRow]:
    """Each card's clinic, facts, pages, automatic answers and shared-number household."""
    if not rows:
        return rows
    clinics = {c.id: c for c in session.exec(select(Clinic))}  # a handful of clinics
    since = min(r.alert.created_at for r in rows)
    sent = list(session.exec(select(Message).where(
        col(Message.kind).in_([MessageKind.PAGE.value, MessageKind.AUTO_REPLY.value]),
        col(Message.due_at) >= since,
        col(Message.clinic_id).in_({r.alert.clinic_id for r in rows}),
    ).order_by(col(Message.due_at), col(Message.id))))  # fmt: skip
    now = utcnow()
    return [
        replace(row, clinic=clinics.get(row.alert.clinic_id),
                facts=alert_facts(session, row.alert, now=now),
                pages=[m for m in sent if _about(m, "alert_id", row.alert.id)],
                answers=[m for m in sent if row.alert.inbound_id is not None
                         and _about(m, "inbound_id", row.alert.inbound_id)],
                household=household_of(session, row.alert) if row.patient is None else [])
        for row in rows
    ]  # fmt: skip


def _about(message: Message, key: str, value: int | None) -> bool:
    kind = MessageKind.PAGE if key == "alert_id" else MessageKind.AUTO_REPLY
    return message.kind == kind and (message.context or {}).get(key) == value


def recently_resolved(
    session: Session, *, clinic_id: int | None, limit: int = 10
) -> list[AlertRow]:
    stmt = (
        select(Alert, Patient)
        .join(Patient, col(Patient.id) == col(Alert.patient_id), isouter=True)
        .where(Alert.status == AlertStatus.RESOLVED.value)
        .order_by(col(Alert.resolved_at).desc())
        .limit(limit)
    )
    if clinic_id is not None:
        stmt = stmt.where(Alert.clinic_id == clinic_id)
    return [AlertRow(a, p, None) for a, p in session.exec(stmt)]


def signature(rows: list[AlertRow]) -> str:
    """Changes whenever the inbox would look different, so the page swaps only then."""
    text = ";".join(f"{r.alert.id}:{r.alert.status}:{r.alert.escalation_level}" for r in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def people_in(
    session: Session, rows: list[AlertRow], notes: dict[int, AlertNotes] | None = None
) -> dict[str, str]:
    labels = [r.alert.acknowledged_by for r in rows] + [r.alert.resolved_by for r in rows]
    labels += [label for note in (notes or {}).values() for label in note.labels]
    return names_for(session, labels)


@dataclass(frozen=True)
class AlertNotes:
    """What people wrote about an alert: the note given when it was resolved (kept in the
    audit log with the resolution) and the handling of the reply that opened it."""

    resolution: str | None = None
    reply: ReplyItem | None = None  # handled_by, handled_at, handled_note

    @property
    def labels(self) -> list[str | None]:
        return [self.reply.handled_by] if self.reply else []


def notes_for(session: Session, alerts: list[Alert]) -> dict[int, AlertNotes]:
    """Notes per alert id (two indexed queries, whatever the number of alerts)."""
    ids = [a.id for a in alerts if a.id is not None]
    if not ids:
        return {}
    resolved = session.exec(
        select(AuditLog.entity_id, AuditLog.reason)
        .where(AuditLog.entity_type == "alert", AuditLog.action == "alert.resolve",
               col(AuditLog.entity_id).in_(ids), col(AuditLog.reason).is_not(None))
        .order_by(col(AuditLog.id))
    ).all()  # fmt: skip
    resolutions = {entity: reason for entity, reason in resolved if entity is not None}
    items = session.exec(
        select(ReplyItem).where(col(ReplyItem.alert_id).in_(ids),
                                col(ReplyItem.handled_at).is_not(None))
    ).all()  # fmt: skip
    replies = {item.alert_id: item for item in items if item.alert_id is not None}
    return {i: AlertNotes(resolutions.get(i), replies.get(i)) for i in ids
            if i in resolutions or i in replies}  # fmt: skip
