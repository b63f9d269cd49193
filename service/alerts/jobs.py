"""The alert-escalation job for the worker's scheduler (one line in `service.worker.JOBS`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from service.alerts import escalate_due
from service.composer import Composer
from service.db.engine import session_scope
from service.logs import kv

if TYPE_CHECKING:
    from service.worker import JobContext

log = logging.getLogger(__name__)
ESCALATION_INTERVAL_SECONDS = 30.0  # ack deadlines are minutes; half a minute late at most


def escalate(ctx: JobContext) -> None:
    """Re-page and escalate urgent alerts nobody acknowledged in time."""
    composer = Composer(renderer=ctx.dispatch.templates, base_url=ctx.settings.public_base_url)
    with session_scope(ctx.engine) as session:
        escalated = escalate_due(session, now=ctx.dispatch.clock(), composer=composer)
    if escalated:
        log.info(kv("alerts.escalated", count=len(escalated)))
