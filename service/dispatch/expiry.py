"""Rows whose validity ended while they waited: skipped in bulk, with the reason.

A routine message waits in the queue while its sender is at its rate limit (`lanes`);
if its validity window ends first it is never sent late: this sweep (a worker job, one
worker at a time) skips such rows a thousand per transaction, saying whether the
sender's rate kept it waiting or no worker took it in time. The claim skips any it
meets first the same way (`intake`), but a backlog of thousands is cleared here at
once rather than at the sender's rate, so it never delays the rows behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from service.db.engine import session_scope
from service.db.models import Message
from service.dispatch.context import DispatchContext
from service.dispatch.lanes import UNCLAIMED, Lanes
from service.domain import MessageStatus
from service.logs import kv
from service.outbox import Move, transition_many

log = logging.getLogger(__name__)
_BATCH = 1000


def skip_expired(
    ctx: DispatchContext, *, now: datetime, stopping: Callable[[], bool] = lambda: False
) -> int:
    """Skip every scheduled row whose validity has ended; how many were skipped."""
    total = 0
    while not stopping():
        skipped = _skip_batch(ctx, now)
        total += skipped
        if skipped < _BATCH:
            break
    if total:
        log.info(kv("dispatch.expired", skipped=total))
    return total


def _skip_batch(ctx: DispatchContext, now: datetime) -> int:
    m: Any = Message.__table__  # type: ignore[attr-defined]
    query = (
        select(m.c.id, m.c.clinic_id, m.c.channel, m.c.next_attempt_at)
        .where(m.c.status == MessageStatus.SCHEDULED, m.c.valid_until < now)
        .order_by(m.c.valid_until)
        .limit(_BATCH)
        .with_for_update(skip_locked=True)
    )
    with session_scope(ctx.engine) as session:
        rows = session.connection().execute(query).all()
        if not rows:
            return 0
        lanes = Lanes(defaults=ctx.sender_defaults, ahead=ctx.options.pace_ahead)
        lanes.read(session, now)
        moves = [Move(row.id, MessageStatus.SCHEDULED, reason=lanes.expired_reason(row))
                 for row in rows]  # fmt: skip
        transition_many(session, moves, MessageStatus.SKIPPED, reason=UNCLAIMED, now=now)
    return len(rows)
