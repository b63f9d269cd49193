"""The PostgreSQL opt-out listener lets go of its connection when it is closed."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.engine import Engine

from service.db.notices import CHANNEL, OptOutNotices


def listeners(engine: Engine) -> int:
    with engine.connect() as conn:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query = :q"
        )
        return conn.execute(query, {"q": f"LISTEN {CHANNEL}"}).scalar_one()


def test_closing_waits_for_the_listener_and_leaves_no_connection_open(pg_engine: Engine) -> None:
    notices = OptOutNotices(pg_engine)
    deadline = time.monotonic() + 10
    while listeners(pg_engine) != 1:
        assert time.monotonic() < deadline, "the listener never started"
        time.sleep(0.02)
    started = time.monotonic()
    notices.close()
    assert time.monotonic() - started < 1.0
    assert listeners(pg_engine) == 0  # closed before close() returned: nothing left to drop
