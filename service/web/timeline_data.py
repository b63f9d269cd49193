"""Read model for a patient's timeline, one page at a time (keyset pagination).

Messages, replies and alerts interleave by time. A page is at most `PAGE_SIZE` items
in time order; the first page is around now (the latest past items and what is coming
next), and "Earlier" / "Later" links carry a cursor: the (time, kind, id) of the item
at the page's edge. Each source is read with an index range from the cursor, so a page
costs the same for a patient with 50 messages or 50,000 (long-running plans and
replies accumulate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

from service.alerts import HOLDING_SEVERITIES, UNRESOLVED
from service.db.models import (
    Alert,
    Clinic,
    Enrollment,
    InboundMessage,
    Message,
    MessageEvent,
    Patient,
)
from service.domain import MessageKind, MessageStatus
from service.enrollment.schedule import TOO_LATE
from service.web.patient_data import events_for

PAGE_SIZE = 50
PAST_ON_FIRST_PAGE = 15  # at least this much history above what is coming
_KINDS = ("message", "reply", "alert")  # the order of items at the same instant


class BadCursor(ValueError):
    """A cursor that is not one this page made."""


@dataclass(frozen=True, order=True)
class Cursor:
    """A position between items: (time, kind rank, id)."""

    at: datetime
    rank: int
    id: int

    def token(self) -> str:
        delta = self.at - EPOCH  # whole microseconds: a float would round some away
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}.{self.rank}.{self.id}"

    @classmethod
    def parse(cls, token: str) -> Cursor:
        parts = token.split(".")
        if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) < 20 for p in parts):
            raise BadCursor(token)
        micros, rank, ident = (int(p) for p in parts)
        if rank >= len(_KINDS) or micros > MAX_MICROS:
            raise BadCursor(token)
        return cls(EPOCH + timedelta(microseconds=micros), rank, ident)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_MICROS = 253_402_300_799 * 1_000_000  # 9999-12-31


@dataclass
class TimelineItem:
    at: datetime
    kind: str  # "message" | "reply" | "alert"
    message: Message | None = None
    events: list[MessageEvent] = field(default_factory=list)
    reply: InboundMessage | None = None
    alert: Alert | None = None

    @property
    def ident(self) -> int:
        row = self.message or self.reply or self.alert
        return int(row.id or 0)  # type: ignore[union-attr]

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.at, _KINDS.index(self.kind), self.ident)


@dataclass
class LateSteps:
    skipped: int = 0
    catch_up: bool = False


@dataclass
class Timeline:
    patient: Patient
    clinic: Clinic
    enrollments: list[Enrollment]
    items: list[TimelineItem]
    earlier: Cursor | None = None  # link to the page before, if there is one
    later: Cursor | None = None
    late_steps: dict[int, LateSteps] = field(default_factory=dict)
    open_alerts: list[Alert] = field(default_factory=list)  # unresolved, oldest first

    @property
    def holding_alerts(self) -> list[Alert]:
        """Unresolved alerts that hold routine plan messages (urgent and concern)."""
        return [a for a in self.open_alerts if a.severity in HOLDING_SEVERITIES]

    def actors(self) -> list[str | None]:
        """Everyone who acted on this page of the timeline, for showing their names."""
        labels: list[str | None] = [e.created_by for e in self.enrollments]
        for item in self.items:
            labels += [ev.actor for ev in item.events]
            if item.alert:
                labels += [item.alert.acknowledged_by, item.alert.resolved_by]
        return labels


# --- sources -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    kind: str
    model: Any
    at: Any
    patient: Any

    @property
    def rank(self) -> int:
        return _KINDS.index(self.kind)

    def after(self, c: Cursor) -> ColumnElement[bool]:
        """Rows strictly after `c` in (time, rank, id) order."""
        if self.rank > c.rank:
            return self.at >= c.at
        if self.rank < c.rank:
            return self.at > c.at
        return or_(self.at > c.at, and_(self.at == c.at, col(self.model.id) > c.id))

    def before(self, c: Cursor) -> ColumnElement[bool]:
        if self.rank < c.rank:
            return self.at <= c.at
        if self.rank > c.rank:
            return self.at < c.at
        return or_(self.at < c.at, and_(self.at == c.at, col(self.model.id) < c.id))

    def read(
        self, session: Session, patient_id: int, *, after: Cursor | None = None,
        before: Cursor | None = None, limit: int | None,
    ) -> list[TimelineItem]:  # fmt: skip
        stmt = select(self.model).where(self.patient == patient_id)
        if after is not None:
            stmt = stmt.where(self.after(after))
        if before is not None:
            stmt = stmt.where(self.before(before))
        backwards = before is not None and after is None
        order = (self.at.desc(), col(self.model.id).desc()) if backwards else (
            self.at, col(self.model.id))  # fmt: skip
        stmt = stmt.order_by(*order)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [TimelineItem(at=getattr(row, self.at.key), kind=self.kind, **{self.kind: row})
                for row in session.exec(stmt)]  # fmt: skip


SOURCES = (
    _Source("message", Message, col(Message.due_at), col(Message.patient_id)),
    _Source("reply", InboundMessage, col(InboundMessage.received_at),
            col(InboundMessage.patient_id)),
    _Source("alert", Alert, col(Alert.created_at), col(Alert.patient_id)),
)  # fmt: skip


def _read_all(
    session: Session, patient_id: int, *, after: Cursor | None = None,
    before: Cursor | None = None, limit: int | None,
) -> list[TimelineItem]:  # fmt: skip
    """Up to `limit` items of each source on one side of the cursor, merged in time order."""
    items = [
        item
        for source in SOURCES
        for item in source.read(session, patient_id, after=after, before=before, limit=limit)
    ]
    return sorted(items, key=lambda item: item.cursor)


def _exists(session: Session, patient_id: int, *, after: Cursor | None = None,
            before: Cursor | None = None) -> bool:  # fmt: skip
    return any(
        source.read(session, patient_id, after=after, before=before, limit=1) for source in SOURCES
    )


# --- the page ----------------------------------------------------------------------


def patient_timeline(
    session: Session,
    patient: Patient,
    *,
    now: datetime,
    before: Cursor | None = None,
    after: Cursor | None = None,
    limit: int | None = PAGE_SIZE,
) -> Timeline:
    """One page of the patient's timeline: the items just before `before`, just after
    `after`, or around `now`; `limit=None` reads everything (for comparison only)."""
    pid = int(patient.id or 0)
    earlier = later = False
    if limit is None:
        items = _read_all(session, pid, limit=None)
    elif after is not None:
        items = _read_all(session, pid, after=after, limit=limit + 1)
        items, later = items[:limit], len(items) > limit
        earlier = bool(items) and _exists(session, pid, before=items[0].cursor)
    elif before is not None:
        items = _read_all(session, pid, before=before, limit=limit + 1)
        items, earlier = items[-limit:], len(items) > limit
        later = bool(items) and _exists(session, pid, after=items[-1].cursor)
    else:
        items, earlier, later = _around(session, pid, now, limit)
    timeline = _frame(session, patient, items)
    if items:
        timeline.earlier = items[0].cursor if earlier else None
        timeline.later = items[-1].cursor if later else None
    _with_events(session, timeline.items)
    return timeline


def _around(
    session: Session, patient_id: int, now: datetime, limit: int
) -> tuple[list[TimelineItem], bool, bool]:
    """The latest past items and the next ones to come; whether more lie either side."""
    edge = Cursor(now, len(_KINDS), 0)  # after every item at `now`
    past = _read_all(session, patient_id, before=edge, limit=limit + 1)
    coming = _read_all(session, patient_id, after=edge, limit=limit + 1)
    # Each source gave its own `limit + 1` nearest, so only the nearest `limit` of the
    # merged list are sure to be complete: never keep more than that of either side.
    keep_past = min(len(past), limit, max(PAST_ON_FIRST_PAGE, limit - len(coming)))
    keep_coming = min(len(coming), limit - keep_past)
    items = past[len(past) - keep_past :] + coming[:keep_coming]
    return items, len(past) > keep_past, len(coming) > keep_coming


def _frame(session: Session, patient: Patient, items: list[TimelineItem]) -> Timeline:
    enrollments = session.exec(
        select(Enrollment)
        .where(Enrollment.patient_id == patient.id)
        .order_by(col(Enrollment.id).desc())
    ).all()
    clinic = session.get(Clinic, patient.clinic_id)
    assert clinic is not None  # foreign key
    return Timeline(
        patient, clinic, list(enrollments), items,
        late_steps=_late_steps(session, patient), open_alerts=_open_alerts(session, patient),
    )  # fmt: skip


def _with_events(session: Session, items: list[TimelineItem]) -> None:
    ids = [item.message.id for item in items if item.message and item.message.id is not None]
    events = events_for(session, ids)
    for item in items:
        if item.message is not None:
            item.events = events.get(item.message.id or 0, [])


def _late_steps(session: Session, patient: Patient) -> dict[int, LateSteps]:
    """Per enrolment: plan sends skipped because their time had passed when planned, and
    whether a catch-up message went instead (read in SQL, whatever page is shown; a
    handful of rows, bounded by the plans' sizes)."""
    enrollment = col(Message.enrollment_id)
    skipped = session.exec(
        select(enrollment, Message.step_key, Message.occurrence).distinct()
        .where(Message.patient_id == patient.id, Message.status == MessageStatus.SKIPPED.value,
               col(Message.status_reason).startswith(TOO_LATE))
    ).all()  # fmt: skip
    found: dict[int, LateSteps] = {}
    for eid, _step, _occurrence in skipped:
        if eid is not None:
            found.setdefault(eid, LateSteps()).skipped += 1
    if found:
        catch_up = select(enrollment).where(
            Message.patient_id == patient.id, Message.kind == MessageKind.CATCH_UP.value,
            enrollment.in_(list(found)))  # fmt: skip
        for eid in session.exec(catch_up):
            if eid in found:
                found[eid].catch_up = True
    return found


def _open_alerts(session: Session, patient: Patient) -> list[Alert]:
    stmt = select(Alert).where(
        Alert.patient_id == patient.id, col(Alert.status).in_([s.value for s in UNRESOLVED])
    )
    return list(session.exec(stmt.order_by(col(Alert.created_at), col(Alert.id))))
