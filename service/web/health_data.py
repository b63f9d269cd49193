"""Worker health for operators: heartbeats, queue depth, overdue, in-doubt and review rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func
from sqlmodel import Session, col, select

from service.db.models import Clinic, Message, ReplyItem, WorkerHeartbeat
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
    replies: list[ReplyBacklog]

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
        replies=reply_backlog(session, now=now),
    )


@dataclass(frozen=True)
class ReplyBacklog:
    """One clinic's unread patient replies: counts only (operators do not read them)."""

    clinic: str
    unread: int
    late: int
    oldest_due: datetime | None  # the longest-waiting late reply's due time


def reply_backlog(session: Session, *, now: datetime) -> list[ReplyBacklog]:
    """Clinics with unread replies, those with late ones first."""
    late = case((col(ReplyItem.due_at) <= now, 1), else_=0)
    oldest = func.min(case((col(ReplyItem.due_at) <= now, col(ReplyItem.due_at)), else_=None))
    rows = session.exec(
        select(Clinic.name, func.count(), func.sum(late), oldest)
        .join(Clinic, col(Clinic.id) == col(ReplyItem.clinic_id))
        .where(col(ReplyItem.handled_at).is_(None))
        .group_by(col(Clinic.id), col(Clinic.name))
    ).all()
    backlog = [ReplyBacklog(name, int(n), int(k or 0), due) for name, n, k, due in rows]
    return sorted(backlog, key=lambda b: (-b.late, b.oldest_due or now, b.clinic))


def _oldest(session: Session, conds: list[ColumnElement[bool]], order: Any) -> list[Message]:
    stmt = select(Message).where(*conds).order_by(order).limit(LIST_LIMIT)
    return list(session.exec(stmt))
