"""Making an enrolment's existing rows say what a new plan of it says: the row work a
reschedule and a clinic re-plan share.

- `lock_plan_rows` reads the plan rows (plain rows, no ORM objects: a clinic may have
  tens of thousands) and locks the scheduled ones, FOR UPDATE in id order. Only rows
  locked here may change: a claim in progress finishes first (its rows are then seen
  as `sending` and left alone); a claim that comes later skips them (SKIP LOCKED); a row
  that became scheduled meanwhile (a released claim) keeps its time.
- `apply_planned` decides, per planned send: a locked row whose time changes is moved
  (collected, then written by `write_moves` in one executemany guarded by
  `status = 'scheduled'`), one that keeps its time is left untouched, one now too late
  is skipped with its reason; a closed unsent row the plan makes valid again comes back
  as a new row (`<dedupe key>:r<n>`: history is append-only) unless it was skipped
  while paused; a locked row no longer planned is cancelled. Status changes go through
  `outbox.transition` (one event each).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlmodel import Session

from service.db.models import Message, MessageEvent
from service.db.queries import one_of
from service.domain import MessageKind, MessageStatus
from service.enrollment import rows as q
from service.enrollment.planning import Pending
from service.enrollment.schedule import Planned
from service.outbox import transition

_CLOSED_UNSENT = (MessageStatus.SKIPPED, MessageStatus.CANCELLED)
_READ = ("id", "enrollment_id", "step_key", "occurrence", "channel", "status", "status_reason",
         "sent_at", "due_at", "next_attempt_at", "valid_until", "fallback_channel")  # fmt: skip
_Key = tuple[str | None, int, str]


@dataclass
class RescheduleResult:
    moved: int = 0
    added: int = 0
    skipped: int = 0
    cancelled: int = 0
    unchanged: int = 0  # locked and still planned at the same time: not written
    catch_up_id: int | None = None
    moves: list[dict[str, Any]] = field(default_factory=list, repr=False)  # for write_moves

    def counts(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name != "moves"}


def lock_plan_rows(
    session: Session, enrollment_ids: Sequence[int]
) -> tuple[dict[int, list[Row[Any]]], set[int]]:
    """The enrolments' plan rows in id order, as they are now, and the ids of the
    scheduled ones, locked until the transaction ends (only those may change)."""
    table: Any = Message.__table__  # type: ignore[attr-defined]
    connection = session.connection()
    movable: set[int] = set()
    rows: dict[int, list[Row[Any]]] = {}
    for chunk in q.chunks(sorted(enrollment_ids)):
        mine = [one_of(session, table.c.enrollment_id, chunk),
                table.c.kind == MessageKind.PLAN.value]  # fmt: skip
        locking = (
            select(table.c.id)
            .where(*mine, table.c.status == MessageStatus.SCHEDULED.value)
            .order_by(table.c.id)
            .with_for_update()
        )
        movable.update(connection.execute(locking).scalars())
        query = select(*(table.c[name] for name in _READ)).where(*mine).order_by(table.c.id)
        for row in connection.execute(query):
            rows.setdefault(row.enrollment_id, []).append(row)
    return rows, movable


def apply_planned(
    session: Session,
    rows: Sequence[Row[Any]],
    movable: set[int],
    pending: Pending,
    *,
    now: datetime,
    actor: str,
    label: str,
    result: RescheduleResult,
) -> None:
    """Make an enrolment's rows (`lock_plan_rows`) say what `pending` planned, counted in
    `result` (moves collected there for `write_moves`). `label` starts the reasons
    written ("rescheduled", "re-planned")."""
    latest: dict[_Key, Row[Any]] = {}
    counts: dict[_Key, int] = {}
    for row in rows:
        key = (row.step_key, row.occurrence, row.channel)
        latest[key] = row
        counts[key] = counts.get(key, 0) + 1
    planned_keys = set()
    for planned in pending.planned:
        key = (planned.step_key, planned.occurrence, planned.channel.value)
        planned_keys.add(key)
        current = latest.get(key)
        if current is not None and current.id in movable:
            _move(session, current, planned, now=now, actor=actor, label=label, result=result)
        elif current is None or _revivable(current, planned):
            suffix = f":r{counts[key]}" if current is not None else ""
            add_planned_row(session, pending, planned, suffix=suffix, now=now)
            result.skipped += planned.status == MessageStatus.SKIPPED
            result.added += planned.status != MessageStatus.SKIPPED
    for key, row in latest.items():
        if key not in planned_keys and row.id in movable:
            _close(session, row.id, MessageStatus.CANCELLED, now=now, actor=actor,
                   reason=f"{label}: no longer planned for this patient")  # fmt: skip
            result.cancelled += 1


def _revivable(current: Row[Any], planned: Planned) -> bool:
    closed = current.status in _CLOSED_UNSENT and current.sent_at is None
    paused = (current.status_reason or "").startswith("paused")
    return closed and not paused and planned.status == MessageStatus.SCHEDULED


def _move(
    session: Session, row: Row[Any], planned: Planned, *, now: datetime, actor: str, label: str,
    result: RescheduleResult,
) -> None:  # fmt: skip
    values = {
        "due_at": planned.due_at,
        "next_attempt_at": planned.next_attempt_at,
        "valid_until": planned.valid_until,
        "fallback_channel": planned.fallback.value if planned.fallback else None,
    }
    if planned.status == MessageStatus.SKIPPED:
        message = _close(session, row.id, MessageStatus.SKIPPED, now=now, actor=actor,
                         reason=f"{label}: {planned.reason}")  # fmt: skip
        for name, value in values.items():
            setattr(message, name, value)
        result.skipped += 1
    elif all(getattr(row, name) == value for name, value in values.items()):
        result.unchanged += 1
    else:
        reason = planned.reason or label
        result.moves.append({"_id": row.id, **values, "status_reason": reason, "updated_at": now})
        result.moved += 1


def _close(
    session: Session, message_id: int, status: MessageStatus, *, now: datetime, actor: str,
    reason: str,
) -> Message:  # fmt: skip
    message = session.get(Message, message_id, populate_existing=True)
    assert message is not None  # locked by lock_plan_rows
    transition(session, message, status, now=now, actor=actor, reason=reason)
    return message


def write_moves(session: Session, result: RescheduleResult) -> None:
    """Write the collected moves: one UPDATE executemany by id (the rows are locked, so
    still scheduled). ORM copies of them in the session are expired.

    By id alone on purpose: with `AND status = 'scheduled'` PostgreSQL's generic plan for
    the prepared statement walked the partial claim index (every scheduled row) for each
    row: 9 ms an UPDATE instead of a primary-key look-up."""
    if not result.moves:
        return
    table: Any = Message.__table__  # type: ignore[attr-defined]
    names = [name for name in result.moves[0] if name != "_id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values({name: bindparam(name) for name in names})
    )
    session.connection().execute(statement, result.moves)
    moved = {move["_id"] for move in result.moves}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Message) and obj.id in moved:
            session.expire(obj)
    result.moves.clear()


def add_planned_row(
    session: Session, pending: Pending, planned: Planned, *, suffix: str, now: datetime
) -> Message:
    """A new row for a planned send whose earlier row is closed (history is append-only:
    the new one's dedupe key carries `suffix`); a row born skipped gets its event."""
    values = q.message_row(
        planned,
        clinic_id=pending.patient.clinic_id,
        patient_id=pending.patient.id,  # type: ignore[arg-type]
        enrollment_id=pending.enrollment_id,
        language=pending.patient.language,
        now=now,
    )
    values["dedupe_key"] = str(values["dedupe_key"]) + suffix
    row = Message(**values)
    session.add(row)
    session.flush()
    if planned.status == MessageStatus.SKIPPED:
        session.add(
            MessageEvent(
                message_id=row.id,  # type: ignore[arg-type]
                at=now,
                to_status=row.status,
                reason=planned.reason,
                actor="enrolment",
            )
        )
    return row
