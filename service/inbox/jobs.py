"""The response-time job for the worker's scheduler (one line in `service.worker.JOBS`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.composer import Composer
from service.db.engine import session_scope
from service.inbox.overdue import report_overdue

if TYPE_CHECKING:
    from service.worker import JobContext


def overdue(ctx: JobContext) -> None:
    """Open tasks and page for unread replies past the clinic's response time."""
    composer = Composer(renderer=ctx.dispatch.templates, base_url=ctx.settings.public_base_url)
    with session_scope(ctx.engine) as session:
        report_overdue(session, now=ctx.dispatch.clock(), composer=composer)
