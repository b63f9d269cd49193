"""Worker health for operators: heartbeats, queue depth, overdue, in-doubt and review rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from service.db.models import Message, WorkerHeartbeat
from service.domain import MessageStatus

STALE_AFTER = timedelta(seconds=60)  # a worker ticks every second or so
IN_DOUBT_AFTER = timedelta(minutes=2)  # `sending` longer than this: the send may have died
LIST_LIMIT = 20


@dataclass(frozen=True)
class Health:
    now: datetime
    workers: list[WorkerHeartbeat]
    due_now: int
    scheduled: int
    oldest_overdue: datetime | None
    in_doubt: int
    in_doubt_rows: list[Message]
    review: int
    review_rows: list[Message]

    def stale(self, worker: WorkerHeartbeat) -> bool:
        return self.now - worker.last_tick_at > STALE_AFTER

    @property
    def overdue_by(self) -> timedelta | None:
        return self.now - self.oldest_overdue if self.oldest_overdue else None


def _count(session: Session, *conds: ColumnElement[bool]) -> int:
    return int(session.exec(select(func.count()).select_from(Message).where(*conds)).one())


def worker_health(session: Session, *, now: datetime) -> Health:
    scheduled = col(Message.status) == MessageStatus.SCHEDULED.value
    due = col(Message.next_attempt_at) <= now
    sending = col(Message.status) == MessageStatus.SENDING.value
    stuck = col(Message.claimed_at) < now - IN_DOUBT_AFTER
    review = col(Message.status) == MessageStatus.REVIEW.value
    oldest = session.exec(select(func.min(col(Message.next_attempt_at))).where(scheduled, due))
    return Health(
        now=now,
        workers=list(
            session.exec(select(WorkerHeartbeat).order_by(col(WorkerHeartbeat.last_tick_at).desc()))
        ),
        due_now=_count(session, scheduled, due),
        scheduled=_count(session, scheduled),
        oldest_overdue=oldest.one(),
        in_doubt=_count(session, sending, stuck),
        in_doubt_rows=_oldest(session, [sending, stuck], col(Message.claimed_at)),
        review=_count(session, review),
        review_rows=_oldest(session, [review], col(Message.updated_at)),
    )


def _oldest(session: Session, conds: list[ColumnElement[bool]], order: Any) -> list[Message]:
    stmt = select(Message).where(*conds).order_by(order).limit(LIST_LIMIT)
    return list(session.exec(stmt))
