"""Engine and sessions, built from settings (never at import time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from service.config import Settings


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    if settings.is_sqlite:
        return _sqlite_engine(settings.database_url, **kwargs)
    if "poolclass" not in kwargs:
        kwargs |= {
            "pool_size": settings.database_pool_size,
            "max_overflow": settings.database_pool_size,
            "pool_pre_ping": True,
        }
    return create_engine(settings.database_url, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the web process read while the scheduler writes; foreign keys are
        # off by default in SQLite; busy_timeout turns lock contention into waiting.
        cursor = dbapi_connection.cursor()
        if ":memory:" not in url:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Any) -> None:
        # Take the write lock at BEGIN so two writers queue instead of deadlocking on
        # a read-to-write upgrade: SQLite's stand-in for row locks in the claim query.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    # pysqlite's own transaction handling must be off for the BEGIN above to take effect.
    @event.listens_for(engine, "connect", insert=True)
    def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
