"""Engine and sessions, built from settings (never at import time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

from service.config import Settings

_SNAPSHOT = "aftercare_read_snapshot"


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    # A failed statement's error never quotes its values (names, numbers, message bodies)
    # into a traceback or a log line.
    kwargs.setdefault("hide_parameters", True)
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
        # A read snapshot (below) begins deferred: it never takes the write lock.
        if conn.get_execution_options().get(_SNAPSHOT):
            conn.exec_driver_sql("BEGIN")
        else:
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


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Session]:
    """A read-only session on one consistent snapshot, for long reads (exports, charts).

    It never blocks a writer and no writer blocks it. SQLite (WAL): a deferred BEGIN,
    so no write lock is taken and the snapshot lasts until the end, with the connection
    set `query_only`. PostgreSQL: REPEATABLE READ READ ONLY. Every statement in it sees
    the same data, so an export read in batches is complete and consistent however long
    it takes. Never commits.
    """
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            connection.execution_options(**{_SNAPSHOT: True})
            _query_only(connection, True)
        else:
            connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        try:
            with Session(bind=connection, expire_on_commit=False, autoflush=False) as session:
                try:
                    yield session
                finally:
                    session.rollback()
        finally:
            if sqlite:
                _query_only(connection, False)


def _query_only(connection: Connection, on: bool) -> None:
    # On the driver connection itself: a pragma, not a statement that begins a transaction.
    connection.connection.driver_connection.execute(f"PRAGMA query_only={int(on)}")  # type: ignore[union-attr]


# A bulk import's page cache on SQLite (the default is 2 MB): its inserts touch pages all
# over nine message indexes, and with the hot ones cached a row costs ~25% less CPU.
_BULK_CACHE_KIB = 65536


@contextmanager
def bulk_page_cache(session: Session) -> Iterator[None]:
    """A larger SQLite page cache on the session's connection while a bulk import runs,
    given back afterwards (the connection returns to the pool). Nothing elsewhere."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    driver: Any = connection.connection.driver_connection
    before = driver.execute("PRAGMA cache_size").fetchone()[0]
    driver.execute(f"PRAGMA cache_size=-{_BULK_CACHE_KIB}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size={int(before)}")
