"""Numbers behind the operators' charts, aggregated in SQL over a window of days.

There is no index on sent_at/delivered_at, so each figure is one scan of the window;
results are cached for a minute per window so a busy page does not repeat the scans.
"""

from __future__ import annotations

import time as clock
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func
from sqlmodel import Session, col, select

from service.db.models import InboundMessage, Message
from service.domain import Channel, MessageStatus

LATENCY_BUCKETS = ((10, "< 10 s"), (30, "10-30 s"), (60, "30 s-1 min"), (300, "1-5 min"),
                   (1800, "5-30 min"), (7200, "30 min-2 h"))  # fmt: skip
SLOWEST = "≥ 2 h"
_FAILED = (MessageStatus.FAILED.value, MessageStatus.UNDELIVERED.value)
CACHE_SECONDS = 60.0
Cache = dict[tuple[int, date], tuple[float, "ChartData"]]


@dataclass
class ChartData:
    days: list[date]
    per_day: dict[str, dict[str, list[int]]]  # channel -> series (sent/delivered/failed) -> counts
    latency: list[tuple[str, int]]
    failure_reasons: list[tuple[str, int]]
    replies: list[tuple[str, int]]
    totals: dict[str, int] = field(default_factory=dict)


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _seconds(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def chart_data(
    session: Session, *, days: int, today: date, cache: Cache | None = None
) -> ChartData:
    """The figures for the `days` days ending `today`; `cache` (one per app) keeps them 60 s."""
    key = (days, today)
    cached = cache.get(key) if cache is not None else None
    if cached and clock.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    data = _compute(session, days=days, today=today)
    if cache is not None:
        cache[key] = (clock.monotonic(), data)
    return data


def _compute(session: Session, *, days: int, today: date) -> ChartData:
    window = [today - timedelta(days=days - 1 - i) for i in range(days)]
    start = datetime.combine(window[0], time(0), tzinfo=UTC)
    per_day = {c.value: {s: [0] * days for s in ("sent", "delivered", "failed")} for c in Channel}
    index = {d: i for i, d in enumerate(window)}
    for series, column, extra in (
        ("sent", Message.sent_at, None),
        ("delivered", Message.delivered_at, None),
        ("failed", Message.updated_at, col(Message.status).in_(_FAILED)),
    ):
        for day, channel, n in _by_day(session, column, start, extra):
            slot = index.get(_as_date(day) or window[0] - timedelta(days=1))
            if slot is not None and channel in per_day:
                per_day[channel][series][slot] += n
    totals = {s: sum(sum(per_day[c][s]) for c in per_day) for s in ("sent", "delivered", "failed")}
    return ChartData(
        window, per_day, _latency(session, start), _reasons(session, start),
        _replies(session, start), totals,
    )  # fmt: skip


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _by_day(
    session: Session, column: Any, start: datetime, extra: ColumnElement[bool] | None
) -> list[tuple[Any, str, int]]:
    day = _day(session, column)
    stmt = select(day, col(Message.channel), func.count()).where(col(column) >= start)
    if extra is not None:
        stmt = stmt.where(extra)
    return list(session.exec(stmt.group_by(day, col(Message.channel))))


def _latency(session: Session, start: datetime) -> list[tuple[str, int]]:
    seconds = _seconds(session, col(Message.sent_at), col(Message.delivered_at))
    bucket = case(*[(seconds < limit, label) for limit, label in LATENCY_BUCKETS], else_=SLOWEST)
    stmt = (
        select(bucket, func.count())
        .where(col(Message.delivered_at) >= start, col(Message.sent_at).is_not(None))
        .group_by(bucket)
    )
    counts = dict(session.exec(stmt).all())
    labels = [label for _, label in LATENCY_BUCKETS] + [SLOWEST]
    return [(label, int(counts.get(label, 0))) for label in labels]


def _reasons(session: Session, start: datetime) -> list[tuple[str, int]]:
    text = func.coalesce(col(Message.error_text), col(Message.status_reason), "no reason recorded")
    code = func.coalesce(col(Message.error_code), "")
    n = func.count()
    stmt = (
        select(text, code, n)
        .where(col(Message.status).in_(_FAILED), col(Message.updated_at) >= start)
        .group_by(text, code)
        .order_by(n.desc())
        .limit(10)
    )
    return [
        (f"{label} ({c})" if c else str(label), int(count))
        for label, c, count in session.exec(stmt)
    ]


def _replies(session: Session, start: datetime) -> list[tuple[str, int]]:
    label = func.coalesce(col(InboundMessage.intent), "unclassified")
    stmt = (
        select(label, func.count()).where(col(InboundMessage.received_at) >= start).group_by(label)
    )
    counts: dict[str, int] = defaultdict(int)
    for name, n in session.exec(stmt):
        counts[str(name)] += int(n)
    order = ["urgent", "concern", "normal", "stop", "start", "help", "other"]
    ranked = [(k, counts.pop(k)) for k in order if k in counts]
    return ranked + sorted(counts.items())
