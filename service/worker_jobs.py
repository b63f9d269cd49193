"""The worker's own periodic jobs (listed in `service.worker.JOBS`)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlmodel import col, delete

from service.db.engine import session_scope
from service.db.models import WorkerHeartbeat
from service.delivery_receipts import apply_pending
from service.dispatch.expiry import skip_expired
from service.dispatch.reconcile import reconcile_in_doubt

if TYPE_CHECKING:
    from service.worker import JobContext


_EARLY = 0.05  # seconds: return this much before the next run is due
_RECEIPTS_PER_RUN = 1000  # callbacks per transaction (`delivery_receipts.apply_pending`)


def dispatch_tick(ctx: JobContext) -> None:
    """Run until just before the next scheduled run, so none is skipped: a skipped run
    would leave a gap of a whole interval in which due rows wait."""
    interval = ctx.settings.dispatch_interval_seconds
    elapsed = (time.time() - ctx.anchor) % interval
    horizon = interval - elapsed - _EARLY
    if horizon < _EARLY:
        horizon += interval
    ctx.dispatcher.tick(horizon=horizon, every=interval, early=_EARLY)


def reconcile(ctx: JobContext) -> None:
    stopping = ctx.dispatcher.stopping.is_set
    reconcile_in_doubt(ctx.dispatch, now=ctx.dispatch.clock(), stopping=stopping)


def expire(ctx: JobContext) -> None:
    """Skip the rows whose validity ended while they waited (service.dispatch.expiry)."""
    stopping = ctx.dispatcher.stopping.is_set
    skip_expired(ctx.dispatch, now=ctx.dispatch.clock(), stopping=stopping)


def receipts(ctx: JobContext) -> None:
    """Apply the status callbacks the web processes recorded, in bulk, until none is left
    (or the worker stops)."""
    while not ctx.dispatcher.stopping.is_set():
        taken = apply_pending(ctx.engine, now=ctx.dispatch.clock(), limit=_RECEIPTS_PER_RUN)
        if taken < _RECEIPTS_PER_RUN:
            return


def heartbeat(ctx: JobContext) -> None:
    now = ctx.dispatch.clock()
    with session_scope(ctx.engine) as session:
        row = session.get(WorkerHeartbeat, ctx.worker_id)
        if row is None:
            row = WorkerHeartbeat(
                worker_id=ctx.worker_id, hostname=ctx.hostname, pid=ctx.pid, started_at=now
            )
        row.last_tick_at = now
        row.last_claimed = ctx.dispatcher.claimed_total
        session.add(row)


def retention(ctx: JobContext) -> None:
    """Forget workers that have been silent for days (the health page shows live ones)."""
    cutoff = ctx.dispatch.clock() - timedelta(days=ctx.options.heartbeat_retention_days)
    with session_scope(ctx.engine) as session:
        session.exec(delete(WorkerHeartbeat).where(col(WorkerHeartbeat.last_tick_at) < cutoff))
