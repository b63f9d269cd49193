"""Claiming due rows: the only place work is handed to a worker.

PostgreSQL: `SELECT id ... LIMIT n FOR UPDATE SKIP LOCKED`, then one `UPDATE ... WHERE id
= ANY(ids) RETURNING ...` marks them `sending` (with `claimed_at`/`claimed_by`/
`claim_count + 1`) and returns them, and one INSERT ... SELECT writes their events, all in
one transaction, so N workers share the queue without ever taking the same row. Urgent
rows (pages, safety-net replies) are taken first, whatever backlog of routine rows is
due. A claim is not an attempt: `attempts` counts provider calls (`fence`). SQLite:
the engine opens every transaction with BEGIN IMMEDIATE (one writer at a time), so
select-then-update inside one transaction is already exclusive; `FOR UPDATE` is simply
not rendered there.

The select is a statement of its own on purpose: inside `UPDATE ... WHERE id IN
(SELECT ... SKIP LOCKED LIMIT n)` PostgreSQL may evaluate the subquery again for each
row, and each evaluation skips the rows the previous ones locked, so one claim would
take far more than n rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, select

from service.db.models import Message
from service.db.queries import one_of
from service.domain import MessageStatus, Priority
from service.outbox import record_moves, transition

# What the rest of the dispatch path reads from a claimed row (content and the claim).
CLAIMED_COLUMNS = (
    "id",
    "attempts",
    "claim_count",
    "claimed_at",
    "priority",
    "clinic_id",
    "patient_id",
    "enrollment_id",
    "kind",
    "step_key",
    "channel",
    "language",
    "context",
    "to_address",
    "subject",
    "body",
    "body_html",
    "segments",
    "due_at",
    "valid_until",
)


def claim_due(
    session: Session, *, worker_id: str, now: datetime, limit: int, urgent_only: bool = False
) -> list[Any]:
    """Mark up to `limit` due scheduled rows `sending` for this worker and return them,
    urgent ones first, then oldest due first, as read-only rows of `CLAIMED_COLUMNS` as
    the row now stands (load one with `session.get` to change it further)."""
    table: Any = Message.__table__  # type: ignore[attr-defined]
    connection = session.connection()
    ids = list(connection.execute(_due(table, now, limit, urgent=True)).scalars())
    if len(ids) < limit and not urgent_only:
        more = connection.execute(_due(table, now, limit - len(ids), urgent=False)).scalars()
        ids += [i for i in more if i not in ids]
    if not ids:
        return []
    reason = f"claimed by {worker_id}"
    statement = (
        update(table)
        .where(one_of(session, table.c.id, ids), table.c.status == MessageStatus.SCHEDULED)
        .values(
            status=MessageStatus.SENDING,
            status_reason=reason,
            updated_at=now,
            claimed_at=now,
            claimed_by=worker_id,
            claim_count=table.c.claim_count + 1,
            call_started_at=None,
        )
        .returning(*(table.c[name] for name in CLAIMED_COLUMNS))
    )
    order = {message_id: position for position, message_id in enumerate(ids)}
    rows = sorted(connection.execute(statement), key=lambda row: order[row.id])
    record_moves(
        session,
        [row.id for row in rows],
        MessageStatus.SCHEDULED,
        MessageStatus.SENDING,
        reason=reason,
        now=now,
    )
    return rows


def _due(table: Any, now: datetime, limit: int, *, urgent: bool) -> Any:
    """Ids of due rows, oldest first, locked (others' locks skipped). The urgent ones
    ride their own partial index; the rest the claim index (urgent ones among them are
    taken by the first query, or by the next claim)."""
    conditions = [table.c.status == MessageStatus.SCHEDULED, table.c.next_attempt_at <= now]
    if urgent:
        conditions.append(table.c.priority == Priority.URGENT)
    return (
        select(table.c.id)
        .where(*conditions)
        .order_by(table.c.next_attempt_at, table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def next_due_at(session: Session) -> datetime | None:
    """When the earliest scheduled row becomes due (None if the queue is empty)."""
    query = select(func.min(Message.next_attempt_at)).where(
        Message.status == MessageStatus.SCHEDULED
    )
    return session.exec(query).one()


def release(
    session: Session, message: Message, *, at: datetime | None, reason: str, now: datetime
) -> None:
    """Give a claimed (or in-review) row back to the queue, to be taken at `at`; without
    `at` it keeps its place (a claim that never reached the provider changes nothing)."""
    transition(session, message, MessageStatus.SCHEDULED, reason=reason, now=now)
    if at is not None:
        message.next_attempt_at = at
    message.claimed_at = None
    message.claimed_by = None
    message.call_started_at = None


def lock_message(session: Session, message_id: int) -> Message | None:
    """The row, locked against the reconciler and webhooks until this transaction ends."""
    query = select(Message).where(Message.id == message_id).with_for_update()
    return session.exec(query).first()
