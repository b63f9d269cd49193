"""Alerts: open, acknowledge, resolve, and escalate the urgent ones nobody acknowledged.

An urgent alert pages the clinic at once and carries `next_escalation_at`; when that
passes with the alert still open, `escalate_due` raises the level, pages the next
on-call recipient (re-paging those already paged) and sets the next deadline from the
clinic's `alert_ack_minutes`. Acknowledging stops escalation. Every change is in the
audit log.

While an urgent or concern alert is open or acknowledged (not yet resolved), routine
plan messages to that patient are held: `patient_has_open_alert` is what the
dispatcher asks. Tasks (call-back, opt-out follow-up, photo review) do not hold
messages: an opted-out patient still gets their emailed advice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from service.alerts.pages import page_urgent
from service.audit import record_audit
from service.composer import Composer
from service.db.models import Alert, Clinic
from service.domain import ActorType, AlertSeverity, AlertStatus
from service.logs import kv

log = logging.getLogger(__name__)

HOLDING_SEVERITIES = (AlertSeverity.URGENT, AlertSeverity.CONCERN)
UNRESOLVED = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)


class AlertError(ValueError):
    """An alert cannot make this change (e.g. acknowledging a resolved alert)."""


def open_alert(
    session: Session,
    *,
    clinic: Clinic,
    severity: AlertSeverity,
    kind: str,
    summary: str,
    now: datetime,
    patient_id: int | None = None,
    enrollment_id: int | None = None,
    inbound_id: int | None = None,
) -> Alert:
    alert = Alert(
        clinic_id=clinic.id,  # type: ignore[arg-type]
        patient_id=patient_id,
        enrollment_id=enrollment_id,
        inbound_id=inbound_id,
        severity=severity,
        kind=kind,
        summary=summary[:500],
        created_at=now,
    )
    if severity == AlertSeverity.URGENT:
        alert.next_escalation_at = now + timedelta(minutes=clinic.alert_ack_minutes)
    session.add(alert)
    session.flush()
    _audit(session, alert, "alert.open", actor_type=ActorType.SYSTEM, reason=kind)
    log.info(kv("alert.open", alert_id=alert.id, severity=severity, kind=kind))
    return alert


def open_urgent_alert(session: Session, *, clinic: Clinic, patient_id: int | None) -> Alert | None:
    """The patient's urgent alert still waiting for acknowledgement, if any."""
    return _patients(session, clinic, patient_id, col(Alert.severity) == AlertSeverity.URGENT,
                     col(Alert.status) == AlertStatus.OPEN)  # fmt: skip


def unresolved_of_kind(
    session: Session, *, clinic: Clinic, patient_id: int | None, kind: str
) -> Alert | None:
    """The patient's alert of this kind not yet resolved, if any (one task at a time)."""
    return _patients(session, clinic, patient_id, col(Alert.kind) == kind,
                     col(Alert.status).in_(UNRESOLVED))  # fmt: skip


def _patients(
    session: Session, clinic: Clinic, patient_id: int | None, *where: ColumnElement[bool]
) -> Alert | None:
    if patient_id is None:
        return None
    query = select(Alert).where(Alert.patient_id == patient_id, Alert.clinic_id == clinic.id)
    return session.exec(query.where(*where)).first()


def acknowledge(session: Session, *, alert: Alert, actor: str, now: datetime) -> Alert:
    """Someone has it: escalation stops. Acknowledging twice changes nothing."""
    if alert.status == AlertStatus.RESOLVED:
        raise AlertError(f"alert {alert.id} is already resolved")
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return alert
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by, alert.acknowledged_at = actor, now
    alert.next_escalation_at = None
    session.add(alert)
    _audit(session, alert, "alert.acknowledge", actor=actor)
    return alert


def resolve(
    session: Session, *, alert: Alert, actor: str, now: datetime, note: str | None = None
) -> Alert:
    if alert.status == AlertStatus.RESOLVED:
        raise AlertError(f"alert {alert.id} is already resolved")
    if alert.acknowledged_at is None:
        alert.acknowledged_by, alert.acknowledged_at = actor, now
    alert.status = AlertStatus.RESOLVED
    alert.resolved_by, alert.resolved_at = actor, now
    alert.next_escalation_at = None
    session.add(alert)
    _audit(session, alert, "alert.resolve", actor=actor, reason=note)
    return alert


def escalate_due(
    session: Session, *, now: datetime, composer: Composer, limit: int = 100
) -> list[int]:
    """Escalate every open urgent alert past its deadline; returns their ids.

    Rows are locked with SKIP LOCKED on PostgreSQL so two workers never page twice.
    """
    due = session.exec(
        select(Alert)
        .where(
            Alert.status == AlertStatus.OPEN,
            col(Alert.next_escalation_at).is_not(None),
            col(Alert.next_escalation_at) <= now,
        )
        .order_by(col(Alert.next_escalation_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for alert in due:
        _escalate(session, alert=alert, composer=composer, now=now)
    return [alert.id for alert in due if alert.id is not None]


def _escalate(session: Session, *, alert: Alert, composer: Composer, now: datetime) -> None:
    clinic = session.get(Clinic, alert.clinic_id)
    assert clinic is not None  # foreign key
    alert.escalation_level += 1
    alert.next_escalation_at = now + timedelta(minutes=clinic.alert_ack_minutes)
    session.add(alert)
    pages = page_urgent(session, composer=composer, alert=alert, clinic=clinic, now=now)
    _audit(
        session,
        alert,
        "alert.escalate",
        actor_type=ActorType.SYSTEM,
        reason=f"not acknowledged within {clinic.alert_ack_minutes} minutes",
        detail={"level": alert.escalation_level, "pages": [page.id for page in pages]},
    )
    log.warning(kv("alert.escalate", alert_id=alert.id, level=alert.escalation_level))


def retime_escalations(session: Session, *, clinic: Clinic, old_minutes: int) -> int:
    """The clinic's acknowledgement window changed: every open urgent alert's next
    re-page moves by the difference (one already waiting longer than the new window is
    escalated on the job's next round). Returns how many moved."""
    delta = timedelta(minutes=clinic.alert_ack_minutes - old_minutes)
    waiting = session.exec(
        select(Alert)
        .where(
            Alert.clinic_id == clinic.id,
            Alert.status == AlertStatus.OPEN,
            col(Alert.next_escalation_at).is_not(None),
        )
        .order_by(col(Alert.id))
        .with_for_update()  # an escalation in progress finishes first
    ).all()
    for alert in waiting:
        if alert.next_escalation_at is not None:  # escalated meanwhile: already re-timed
            alert.next_escalation_at += delta
            session.add(alert)
    return len(waiting)


def patient_has_open_alert(session: Session, patient_id: int | None) -> bool:
    """True while an urgent/concern alert for the patient is not resolved."""
    if patient_id is None:
        return False
    count = session.exec(
        select(func.count()).where(
            Alert.patient_id == patient_id,
            col(Alert.status).in_(UNRESOLVED),
            col(Alert.severity).in_(HOLDING_SEVERITIES),
        )
    ).one()
    return int(count) > 0


def _audit(
    session: Session,
    alert: Alert,
    action: str,
    *,
    actor_type: ActorType = ActorType.USER,
    actor: str | None = None,
    reason: str | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    if actor and actor.startswith("api_key:"):
        actor_type = ActorType.API_KEY
    record_audit(
        session,
        actor_type=actor_type,
        actor=actor,
        action=action,
        entity_type="alert",
        entity_id=alert.id,
        clinic_id=alert.clinic_id,
        reason=reason,
        detail=detail or {"severity": alert.severity, "status": alert.status},
    )
