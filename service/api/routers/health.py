"""Probes: liveness/readiness (open) and Prometheus metrics.

`/metrics` wants `Authorization: Bearer METRICS_TOKEN` when the token is set; without
one it is open outside production and off (404) in production.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, text
from sqlmodel import select

from service import __version__, metrics
from service.api.deps import SessionDep, SettingsDep
from service.db.models import Message
from service.db.types import utcnow
from service.domain import MessageStatus

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(session: SessionDep) -> dict[str, Any]:
    """200 when the process is up and the database answers."""
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return {"status": "ok", "version": __version__, "database": "ok"}


def metrics_access(request: Request, settings: SettingsDep) -> None:
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not token:
        if settings.environment == "production":
            raise HTTPException(status.HTTP_404_NOT_FOUND, "metrics are off: set METRICS_TOKEN")
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "metrics need Authorization: Bearer <METRICS_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_access)])
def prometheus_metrics(session: SessionDep) -> Response:
    # Queue depth is read at scrape time so every web replica reports the same truth.
    due = select(func.count()).where(
        Message.status == MessageStatus.SCHEDULED, Message.next_attempt_at <= utcnow()
    )
    metrics.QUEUE_DEPTH.set(session.exec(due).one())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
