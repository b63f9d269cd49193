"""Claiming due rows: the only place work is handed to a worker.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED LIMIT n`, then each row is marked
`sending` with `claimed_at`/`claimed_by`/`attempts + 1` in the same transaction (one
set-based UPDATE and one event INSERT for the whole batch), so N
workers share the queue without ever taking the same row. SQLite: the engine opens every
transaction with BEGIN IMMEDIATE (one writer at a time), so select-then-update inside one
transaction is already exclusive; `FOR UPDATE` is simply not rendered there.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from service.db.models import Message
from service.domain import MessageStatus
from service.outbox import Move, transition, transition_many


def claim_due(session: Session, *, worker_id: str, now: datetime, limit: int) -> list[Any]:
    """Mark up to `limit` due scheduled rows `sending` for this worker and return them as
    read-only snapshots (attribute access like `Message`, as the row now stands; no ORM
    objects: load one with `session.get` to change the row further)."""
    table: Any = Message.__table__  # type: ignore[attr-defined]
    query = (
        select(table)
        .where(table.c.status == MessageStatus.SCHEDULED, table.c.next_attempt_at <= now)
        .order_by(table.c.next_attempt_at, table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.connection().execute(query))
    reason = f"claimed by {worker_id}"
    transition_many(
        session,
        [Move(row.id, row.status) for row in rows],
        MessageStatus.SENDING,
        reason=reason,
        now=now,
        values={"claimed_at": now, "claimed_by": worker_id, "attempts": table.c.attempts + 1},
    )
    claimed = {
        "status": MessageStatus.SENDING,
        "status_reason": reason,
        "updated_at": now,
        "claimed_at": now,
        "claimed_by": worker_id,
    }
    return [
        SimpleNamespace(**{**row._mapping, **claimed, "attempts": row.attempts + 1}) for row in rows
    ]


def next_due_at(session: Session) -> datetime | None:
    """When the earliest scheduled row becomes due (None if the queue is empty)."""
    query = select(func.min(Message.next_attempt_at)).where(
        Message.status == MessageStatus.SCHEDULED
    )
    return session.exec(query).one()


def release(
    session: Session, message: Message, *, at: datetime, reason: str, now: datetime
) -> None:
    """Give a claimed (or in-review) row back to the queue, to be taken at `at`."""
    transition(session, message, MessageStatus.SCHEDULED, reason=reason, now=now)
    message.next_attempt_at = at
    message.claimed_at = None
    message.claimed_by = None


def lock_message(session: Session, message_id: int) -> Message | None:
    """The row, locked against the reconciler and webhooks until this transaction ends."""
    query = select(Message).where(Message.id == message_id).with_for_update()
    return session.exec(query).first()
