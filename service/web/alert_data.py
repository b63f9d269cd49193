"""Read model for the alert inbox: open and acknowledged alerts, urgent first."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import case
from sqlmodel import Session, col, select

from service.db.models import Alert, InboundMessage, Patient
from service.domain import AlertSeverity, AlertStatus
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


def inbox(session: Session, *, clinic_id: int | None) -> list[AlertRow]:
    """Unresolved alerts: urgent before concern before tasks; open before acknowledged."""
    stmt = (
        select(Alert, Patient, InboundMessage)
        .join(Patient, col(Patient.id) == col(Alert.patient_id), isouter=True)
        .join(InboundMessage, col(InboundMessage.id) == col(Alert.inbound_id), isouter=True)
        .where(col(Alert.status) != AlertStatus.RESOLVED.value)
        .order_by(
            _RANK,
            col(Alert.status) != AlertStatus.OPEN.value,
            col(Alert.created_at).desc(),
            col(Alert.id).desc(),
        )
        .limit(INBOX_LIMIT)
    )
    if clinic_id is not None:
        stmt = stmt.where(Alert.clinic_id == clinic_id)
    return [AlertRow(a, p, r) for a, p, r in session.exec(stmt)]


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


def people_in(session: Session, rows: list[AlertRow]) -> dict[str, str]:
    labels = [r.alert.acknowledged_by for r in rows] + [r.alert.resolved_by for r in rows]
    return names_for(session, labels)
