"""Unauthenticated probes: liveness/readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, text
from sqlmodel import select

from service import __version__, metrics
from service.api.deps import SessionDep
from service.db.models import Message
from service.db.types import utcnow
from service.domain import MessageStatus

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(session: SessionDep) -> dict[str, Any]:
    """200 when the process is up and the database answers."""
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return {"status": "ok", "version": __version__, "database": "ok"}


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics(session: SessionDep) -> Response:
    # Queue depth is read at scrape time so every web replica reports the same truth.
    due = select(func.count()).where(
        Message.status == MessageStatus.SCHEDULED, Message.next_attempt_at <= utcnow()
    )
    metrics.QUEUE_DEPTH.set(session.exec(due).one())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
