"""Plain dicts for bulk inserts, and the queries the bulk path runs per batch.

Rows are built in pure Python and inserted in one statement per table (no ORM objects,
no per-row flush): `db.queries.insert_rows`, a COPY on PostgreSQL. Every column that
has no database default is given explicitly so all dicts share one key set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlmodel import Session, SQLModel, col

from service.db.models import Enrollment, Message
from service.db.queries import one_of
from service.domain import Channel, MessageKind, MessageStatus, Priority
from service.enrollment.limits import Existing
from service.enrollment.schedule import Planned
from service.scheduling import NIGHT_WINDOW_KEY, QuietHours

LIVE = (
    MessageStatus.SCHEDULED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.REVIEW,
)
_LIVE_VALUES = frozenset(s.value for s in LIVE)
CHUNK = 500


def dedupe_key(enrollment_id: int, step_key: str, occurrence: int, channel: str) -> str:
    return f"enr:{enrollment_id}:{step_key}:{occurrence}:{channel}"


# Enum members to their stored text: a dict hit, where `.value` is a Python-level
# property (four per message row, a tenth of building a bulk enrolment's rows).
_TEXT: dict[str, str] = {m: m.value for e in (Channel, Priority, MessageStatus) for m in e}
_PLAN = MessageKind.PLAN.value


def night_context(night: QuietHours | None) -> dict[str, str] | None:
    return None if night is None else {NIGHT_WINDOW_KEY: str(night)}


def message_row(
    planned: Planned,
    *,
    clinic_id: int,
    patient_id: int,
    enrollment_id: int,
    language: str,
    now: datetime,
    key: str | None = None,
) -> dict[str, Any]:
    fallback = planned.fallback
    return {
        "dedupe_key": key
        or dedupe_key(enrollment_id, planned.step_key, planned.occurrence, planned.channel),
        "clinic_id": clinic_id,
        "patient_id": patient_id,
        "enrollment_id": enrollment_id,
        "kind": _PLAN,
        "step_key": planned.step_key,
        "occurrence": planned.occurrence,
        "channel": _TEXT[planned.channel],
        "fallback_channel": _TEXT[fallback] if fallback else None,
        "priority": _TEXT[planned.priority],
        "language": language,
        "due_at": planned.due_at,
        "next_attempt_at": planned.next_attempt_at,
        "valid_until": planned.valid_until,
        "status": _TEXT[planned.status],
        "status_reason": planned.reason,
        # The dispatcher re-checks quiet hours with the step's own night edges.
        "context": night_context(planned.night),
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def existing_enrollments(
    session: Session, *, clinic_id: int, plan_key: str, patient_ids: Sequence[int]
) -> dict[tuple[int, datetime], Enrollment]:
    found: dict[tuple[int, datetime], Enrollment] = {}
    for chunk in chunks(sorted(set(patient_ids))):
        query = select(Enrollment).where(
            col(Enrollment.plan_key) == plan_key,
            one_of(session, col(Enrollment.patient_id), chunk),
        )
        # The clinic is checked here, not in SQL: given a clinic condition SQLite (without
        # statistics) walked the (clinic_id, status) index, every enrolment of the clinic
        # per chunk; this way it uses the (patient_id, plan_key, procedure_at) key.
        for row in session.execute(query).scalars():
            if row.clinic_id == clinic_id:
                found[(row.patient_id, row.procedure_at)] = row
    return found


def live_messages(
    session: Session,
    *,
    patient_ids: Sequence[int],
    since: datetime,
    exclude: frozenset[int] = frozenset(),
) -> dict[int, list[Existing]]:
    """Each patient's live plan messages from `since` on, with their enrolment's plan."""
    found: dict[int, list[Existing]] = {}
    for chunk in chunks(sorted(set(patient_ids))):
        query = (
            select(
                col(Message.id),
                col(Message.patient_id),
                col(Message.enrollment_id),
                col(Enrollment.plan_key),
                col(Message.step_key),
                col(Message.channel),
                col(Message.due_at),
                col(Message.status),
            )
            .join(Enrollment, col(Enrollment.id) == col(Message.enrollment_id))
            .where(one_of(session, col(Message.patient_id), chunk), col(Message.due_at) >= since)
        )
        # Status is filtered here, not in SQL: given a status condition SQLite (without
        # statistics) walks the (status, due_at) index, i.e. every live message of the
        # clinic per chunk, quadratic in the outbox; this way it can only use
        # (patient_id, due_at), a handful of rows per patient.
        for mid, pid, eid, plan_key, step, channel, due, status in session.execute(query):
            if eid in exclude or status not in _LIVE_VALUES:
                continue
            found.setdefault(pid, []).append(Existing(mid, eid, plan_key, step, channel, due))
    return found


def sms_counts_by_due(
    session: Session,
    *,
    clinic_id: int,
    due: Sequence[datetime],
    since: datetime,
    exclude: frozenset[int] = frozenset(),
) -> dict[datetime, int]:
    """How many SMS of the clinic are already queued at each of these instants (pacing).

    Looked up by exact instant (IN, chunked) on the (clinic_id, due_at) index, so the
    cost follows the batch, not the size of the clinic's queue.
    """
    wanted = sorted({at for at in due if at >= since})
    counts: dict[datetime, int] = {}
    for chunk in chunks(wanted):
        query = (
            select(col(Message.due_at), func.count())
            .where(
                col(Message.clinic_id) == clinic_id,
                one_of(session, col(Message.due_at), chunk),
                col(Message.channel) == Channel.SMS.value,
                col(Message.status) == MessageStatus.SCHEDULED.value,
            )
            .group_by(col(Message.due_at))
        )
        if exclude:  # a rescheduled enrolment's (or a re-plan's) own rows are about to move
            enrollment = col(Message.enrollment_id)
            # One array parameter on PostgreSQL, not one per id: a clinic re-plan excludes
            # thousands, and an IN list that long is parsed and planned again per chunk.
            others = ~one_of(session, enrollment, sorted(exclude))
            query = query.where(enrollment.is_(None) | others)
        counts.update({at: n for at, n in session.execute(query)})
    return counts


def sequence_ids(session: Session, t: Table, count: int) -> list[int] | None:
    """PostgreSQL: `count` new ids drawn from the table's sequence; None elsewhere.

    With ids known up front a bulk insert is one COPY (`db.queries.insert_rows`).
    INSERT ... RETURNING goes through insertmanyvalues instead, whose 1,000-row
    statements psycopg re-parses client-side every time (a quarter of the client CPU of
    a bulk enrolment). SQLite keeps RETURNING: it is cheap there.
    """
    if session.get_bind().dialect.name != "postgresql" or count == 0:
        return None
    query = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")
    return [row[0] for row in session.execute(query, {"t": t.name, "n": count})]


def table(model: type[SQLModel]) -> Table:
    """The model's Core table. Bulk inserts go through Core, not the ORM: the ORM's bulk
    insert splits rows by which values are None (to let defaults fire) and sends
    RETURNING rows one by one on SQLite, which costs an order of magnitude."""
    return model.__table__  # type: ignore[attr-defined]
