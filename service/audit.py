"""The audit log: who did what to which record, and why."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from service.db.models import AuditLog
from service.domain import ActorType


def record_audit(
    session: Session,
    *,
    actor_type: ActorType,
    action: str,
    entity_type: str,
    entity_id: int | None,
    clinic_id: int | None = None,
    actor: str | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            actor_type=actor_type,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            clinic_id=clinic_id,
            reason=reason,
            detail=detail,
        )
    )
