"""Claiming due rows: the only place work is handed to a worker.

PostgreSQL: the due rows' ids, locked with `FOR UPDATE SKIP LOCKED` (`lanes`: per
sender, as many as it has slots, urgent first), then one `UPDATE ... WHERE id = ANY(ids)
RETURNING ...` marks them `sending` (with `claimed_at`/`claimed_by`/`claim_count + 1`)
and returns them, and one INSERT ... SELECT writes their events, all in one
transaction, so N workers share the queue without ever taking the same row. Urgent
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

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, select

from service.db.models import Message
from service.db.queries import one_of
from service.dispatch.lanes import Lanes
from service.domain import MessageStatus
from service.outbox import record_moves, transition
from service.senders import Defaults

DEFAULT_AHEAD = timedelta(seconds=1)  # DISPATCH_PACE_AHEAD_SECONDS' default

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
    "next_attempt_at",
    "valid_until",
)


def claim_due(
    session: Session,
    *,
    worker_id: str,
    now: datetime,
    limit: int,
    urgent_only: bool = False,
    lanes: Lanes | None = None,
) -> list[Any]:
    """Mark up to `limit` due scheduled rows `sending` for this worker and return them in
    the order to send them (urgent, then safety, then routine; oldest first within each;
    paced senders' rows only as many as they have slots: `lanes`), as read-only rows of
    `CLAIMED_COLUMNS` as the row now stands (load one with `session.get` to change it
    further). `lanes` (opened here) is then the claim's view of the senders, which hands
    out the rows' slots and is saved in the same transaction."""
    table: Any = Message.__table__  # type: ignore[attr-defined]
    connection = session.connection()
    if lanes is None:
        lanes = Lanes(defaults=Defaults(), ahead=DEFAULT_AHEAD)
    lanes.open(session, now=now, limit=limit)
    ids = lanes.due_ids(session, now=now, limit=limit, urgent_only=urgent_only)
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
