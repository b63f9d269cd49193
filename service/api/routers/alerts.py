"""Alerts REST: list (urgent first), acknowledge, resolve. Staff see their clinic only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import case
from sqlmodel import Session, col, select

from service.accounts import Principal
from service.alerts import AlertError, acknowledge, resolve
from service.api import errors
from service.api.deps import ClinicalDep, DbId, SessionDep, visible_row
from service.db.models import Alert
from service.domain import AlertSeverity, AlertStatus, Role

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=errors.AUTHENTICATED)


class AlertPublic(BaseModel):
    id: int
    clinic_id: int
    patient_id: int | None
    enrollment_id: int | None
    inbound_id: int | None
    severity: AlertSeverity
    kind: str
    summary: str
    status: AlertStatus
    escalation_level: int
    next_escalation_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, alert: Alert) -> AlertPublic:
        return cls.model_validate(alert, from_attributes=True)


class AlertList(BaseModel):
    items: list[AlertPublic]
    total: int


class ResolveRequest(errors.Input):
    note: str | None = Field(default=None, max_length=500)  # the audit entry's reason


_SEVERITY_ORDER = case(
    (col(Alert.severity) == AlertSeverity.URGENT, 0),
    (col(Alert.severity) == AlertSeverity.CONCERN, 1),
    else_=2,
)


@router.get("", response_model=AlertList)
def list_alerts(
    session: SessionDep,
    principal: ClinicalDep,
    alert_status: Annotated[AlertStatus | None, Query(alias="status")] = None,
    severity: AlertSeverity | None = None,
    clinic_id: DbId | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertList:
    """Urgent first, then concern, then tasks; newest first within each."""
    query = select(Alert)
    if principal.role != Role.ADMIN:
        query = query.where(Alert.clinic_id == principal.clinic_id)
    elif clinic_id is not None:
        query = query.where(Alert.clinic_id == clinic_id)
    if alert_status is not None:
        query = query.where(Alert.status == alert_status)
    if severity is not None:
        query = query.where(Alert.severity == severity)
    rows = session.exec(
        query.order_by(_SEVERITY_ORDER, col(Alert.created_at).desc(), col(Alert.id).desc())
    ).all()
    return AlertList(items=[AlertPublic.of(a) for a in rows[:limit]], total=len(rows))


@router.post(
    "/{alert_id}/ack", response_model=AlertPublic, responses={**errors.NOT_FOUND, **errors.CONFLICT}
)
def ack_alert(alert_id: DbId, session: SessionDep, principal: ClinicalDep) -> AlertPublic:
    alert = _visible(session, principal, alert_id)
    try:
        acknowledge(session, alert=alert, actor=principal.label, now=datetime.now(UTC))
    except AlertError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return AlertPublic.of(alert)


@router.post(
    "/{alert_id}/resolve",
    response_model=AlertPublic,
    responses={**errors.NOT_FOUND, **errors.CONFLICT},
)
def resolve_alert(
    alert_id: DbId,
    session: SessionDep,
    principal: ClinicalDep,
    body: ResolveRequest | None = None,
) -> AlertPublic:
    alert = _visible(session, principal, alert_id)
    note = body.note if body else None
    try:
        resolve(session, alert=alert, actor=principal.label, now=datetime.now(UTC), note=note)
    except AlertError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return AlertPublic.of(alert)


def _visible(session: Session, principal: Principal, alert_id: int) -> Alert:
    return visible_row(session, principal, Alert, alert_id)
