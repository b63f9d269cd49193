"""Column types shared by the models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_NAIVE = "naive datetime given to a UTC column; pass an aware datetime"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every back-end.

    PostgreSQL stores `timestamptz`; SQLite stores text without an offset, so values are
    normalised to UTC on the way in and marked UTC on the way out. A naive datetime is a
    programming error here, never silently assumed to be local time.

    Binding is one fused function per dialect instead of `process_bind_param` chained to
    the impl's processor: bulk inserts bind five of these per message row, and the chain
    (two calls, `replace`, then SQLite's %-formatting from a dict) was a fifth of an
    enrolment's CPU time. The SQLite text is the impl's own storage format.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(_NAIVE)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return sqlite_text
        impl = self.impl_instance.dialect_impl(dialect).bind_processor(dialect)
        if impl is None:
            return _utc
        return lambda value: impl(_utc(value))

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    tz = value.tzinfo
    if tz is UTC:  # the common case: every datetime the service makes is already UTC
        return value
    if tz is None:
        raise ValueError(_NAIVE)
    return value.astimezone(UTC)


# Bulk rows repeat the same instants (created_at, shared send times): formatting costs
# ~1us, a dict hit ~0.05us. Keys are UTC datetimes only, so equal keys are equal texts.
_TEXTS: dict[datetime, str] = {}
_TEXTS_MAX = 65536


def sqlite_text(value: datetime | None) -> str | None:
    """SQLite's DATETIME storage format ('YYYY-MM-DD HH:MM:SS.ffffff') of the UTC instant."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError(_NAIVE)
        value = value.astimezone(UTC)
    text = _TEXTS.get(value)
    if text is None:
        if len(_TEXTS) >= _TEXTS_MAX:
            _TEXTS.clear()
        text = _TEXTS[value] = value.isoformat(" ", "microseconds")[:26]
    return text


def utcnow() -> datetime:
    return datetime.now(UTC)
