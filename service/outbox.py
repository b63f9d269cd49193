"""The outbox: queueing ad hoc messages and moving any message forward.

`transition` is the one way a message's status changes. It appends a MessageEvent for
every change (the audit trail) and refuses to move a message backwards, which is what
makes out-of-order delivery receipts and replayed webhooks harmless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, literal, select, update
from sqlmodel import Session

from service.db.models import Message, MessageEvent
from service.db.queries import one_of, update_rows
from service.domain import MessageKind, MessageStatus, Priority

# How far along each status is; a transition must not go to a lower rank. SENT ->
# DELIVERED/UNDELIVERED refines a send; SCHEDULED <-> SENDING is a claim or a release.
_RANK = {
    MessageStatus.SCHEDULED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.REVIEW: 2,
    MessageStatus.SENT: 3,
    MessageStatus.UNDELIVERED: 4,
    MessageStatus.DELIVERED: 5,
    MessageStatus.FAILED: 5,
    MessageStatus.CANCELLED: 5,
    MessageStatus.SKIPPED: 5,
}
# Moves that go down in rank on purpose: a retry releases a claim; review resolves.
_ALLOWED_BACKWARD = {
    (MessageStatus.SENDING, MessageStatus.SCHEDULED),
    (MessageStatus.REVIEW, MessageStatus.SCHEDULED),
}
_FINAL = {
    MessageStatus.DELIVERED,
    MessageStatus.FAILED,
    MessageStatus.CANCELLED,
    MessageStatus.SKIPPED,
}


class TransitionRefused(ValueError):
    """A status change that would move a message backwards or out of a final state."""


def can_transition(current: str, target: str) -> bool:
    src, dst = MessageStatus(current), MessageStatus(target)
    if src in _FINAL:
        return False
    if (src, dst) in _ALLOWED_BACKWARD:
        return True
    if src == MessageStatus.UNDELIVERED:
        # A late "delivered" receipt may still correct an earlier failure report.
        return dst == MessageStatus.DELIVERED
    return _RANK[dst] > _RANK[src]


def transition(
    session: Session,
    message: Message,
    to_status: MessageStatus,
    *,
    reason: str | None,
    now: datetime,
    provider_status: str | None = None,
    error_code: str | None = None,
    actor: str | None = None,
) -> None:
    """Move `message` to `to_status` and record why. Raises TransitionRefused."""
    if not can_transition(message.status, to_status):
        raise TransitionRefused(f"message {message.id}: {message.status} -> {to_status}")
    event = MessageEvent(
        message_id=message.id,  # type: ignore[arg-type]
        at=now,
        from_status=message.status,
        to_status=to_status,
        reason=reason,
        provider_status=provider_status,
        error_code=error_code,
        actor=actor,
    )
    message.status = to_status
    message.status_reason = reason
    message.updated_at = now
    session.add(message)
    session.add(event)


@dataclass(frozen=True)
class Move:
    """One row of a set-based transition: the status it must still be in, and its own values."""

    message_id: int
    from_status: str
    reason: str | None = None  # overrides the batch's reason for this row
    values: Mapping[str, Any] = field(default_factory=dict)  # same keys on every row


def transition_many(
    session: Session,
    moves: Sequence[Move],
    to_status: MessageStatus,
    *,
    reason: str | None,
    now: datetime,
    values: Mapping[str, Any] | None = None,
    provider_status: str | None = None,
    actor: str | None = None,
) -> None:
    """`transition` for a batch: one UPDATE and one event INSERT, each an executemany.

    Same rules and the same events as `transition`. Each row's UPDATE also requires the
    status the caller read, so a row changed behind the caller's back refuses the whole
    batch (TransitionRefused) instead of being moved from a state nobody checked. The
    caller's ORM objects for these rows are not updated: reload them or do not reuse them.
    """
    if not moves:
        return
    for move in moves:
        if not can_transition(move.from_status, to_status):
            raise TransitionRefused(f"message {move.message_id}: {move.from_status} -> {to_status}")
    keys = sorted(moves[0].values)
    if any(sorted(move.values) != keys for move in moves):
        raise ValueError("transition_many: every move must set the same columns")
    connection = session.connection()
    table: Any = Message.__table__  # type: ignore[attr-defined]
    shared = {"status": to_status, "updated_at": now, **(values or {})}
    sources = {move.from_status for move in moves}
    if not keys and len(sources) == 1 and all(move.reason is None for move in moves):
        # The claim's case: the same change for every row, so one plain UPDATE ... IN.
        statement: Any = (
            update(table)
            .where(
                one_of(connection, table.c.id, [m.message_id for m in moves]),
                table.c.status == sources.pop(),
            )
            .values(status_reason=reason, **shared)
        )
        result = connection.execute(statement)
        if connection.dialect.supports_sane_multi_rowcount and result.rowcount != len(moves):
            raise TransitionRefused(f"{len(moves) - result.rowcount} row(s) changed concurrently")
    else:
        rows = [
            {
                "id": move.message_id,
                "status": move.from_status,
                "status_reason": move.reason or reason,
                **{key: move.values[key] for key in keys},
            }
            for move in moves
        ]
        matched = update_rows(connection, table, rows, match=("id", "status"), values=shared)
        if matched is not None and matched != len(moves):
            raise TransitionRefused(f"{len(moves) - matched} row(s) changed concurrently")
    _record_events(connection, moves, to_status, reason=reason, now=now,
                   provider_status=provider_status, actor=actor)  # fmt: skip


def record_moves(
    session: Session,
    message_ids: Sequence[int],
    from_status: MessageStatus,
    to_status: MessageStatus,
    *,
    reason: str,
    now: datetime,
) -> None:
    """The events of rows the caller has just moved in one set-based statement that
    required `from_status` (the dispatcher's claim: `UPDATE ... RETURNING`). Checks the
    move is allowed, as `transition` does; one event per row."""
    if not message_ids:
        return
    if not can_transition(from_status, to_status):
        raise TransitionRefused(f"{from_status} -> {to_status}")
    moves = [Move(message_id, from_status) for message_id in message_ids]
    _record_events(session.connection(), moves, to_status, reason=reason, now=now,
                   provider_status=None, actor=None)  # fmt: skip


def _record_events(
    connection: Any,
    moves: Sequence[Move],
    to_status: MessageStatus,
    *,
    reason: str | None,
    now: datetime,
    provider_status: str | None,
    actor: str | None,
) -> None:
    """The batch's events. The common case (one source status, one reason: a claim, a
    sent batch) is one INSERT ... SELECT over the moved ids, with no per-row parameters;
    otherwise one executemany (a multi-row VALUES would be compiled afresh for every
    batch, which costs more than it saves)."""
    events: Any = MessageEvent.__table__  # type: ignore[attr-defined]
    sources = {move.from_status for move in moves}
    reasons = {move.reason or reason for move in moves}
    if len(sources) == 1 and len(reasons) == 1:
        messages: Any = Message.__table__  # type: ignore[attr-defined]
        shared = {
            "at": now,
            "from_status": sources.pop(),
            "to_status": to_status,
            "reason": reasons.pop(),
            "provider_status": provider_status,
            "error_code": None,
            "actor": actor,
        }
        rows = select(
            messages.c.id,
            *(literal(value, events.c[name].type) for name, value in shared.items()),
        ).where(one_of(connection, messages.c.id, [move.message_id for move in moves]))
        connection.execute(insert(events).from_select(["message_id", *shared], rows))
        return
    params = [
        {
            "message_id": move.message_id,
            "at": now,
            "from_status": move.from_status,
            "to_status": to_status,
            "reason": move.reason or reason,
            "provider_status": provider_status,
            "error_code": None,
            "actor": actor,
        }
        for move in moves
    ]
    connection.execute(insert(events), params)


def queue_message(
    session: Session,
    *,
    clinic_id: int,
    channel: str,
    body: str | None,
    kind: MessageKind,
    priority: Priority,
    due_at: datetime,
    dedupe_key: str,
    subject: str | None = None,
    body_html: str | None = None,
    patient_id: int | None = None,
    to_address: str | None = None,
    language: str = "en",
    valid_until: datetime | None = None,
    enrollment_id: int | None = None,
    reason: str | None = None,
    segments: int | None = None,
) -> Message:
    """Queue one pre-rendered message (auto-reply, page, fallback, catch-up); `body=None`
    only for a plan step the dispatcher renders at send time (an email fallback).

    The dispatcher sends it like any other row; nothing is sent from the caller's
    request. `dedupe_key` is unique, so a replayed webhook cannot queue a reply twice.
    """
    message = Message(
        dedupe_key=dedupe_key,
        clinic_id=clinic_id,
        patient_id=patient_id,
        enrollment_id=enrollment_id,
        kind=kind,
        channel=channel,
        priority=priority,
        language=language,
        to_address=to_address,
        due_at=due_at,
        next_attempt_at=due_at,
        valid_until=valid_until,
        subject=subject,
        body=body,
        body_html=body_html,
        segments=segments,
        status=MessageStatus.SCHEDULED,
        status_reason=reason,
    )
    session.add(message)
    session.flush()
    session.add(
        MessageEvent(
            message_id=message.id,  # type: ignore[arg-type]
            at=due_at,
            from_status=None,
            to_status=MessageStatus.SCHEDULED,
            reason=reason or f"queued {kind}",
        )
    )
    return message
