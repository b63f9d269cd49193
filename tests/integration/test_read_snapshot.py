"""`read_snapshot`: a long read sees one state of the database and never holds up a write,
on both back-ends."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.db import migrate
from service.db.engine import make_engine, read_snapshot, session_scope


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, settings):
    if request.param == "sqlite":
        migrate.upgrade(settings)
        engine = make_engine(settings)
    else:
        engine = make_engine(request.getfixturevalue("pg_settings"))
    yield engine
    engine.dispose()


def count_clinics(session) -> int:
    return int(session.execute(text("SELECT count(*) FROM clinics")).scalar_one())


def add_clinic(engine, slug: str) -> float:
    """Insert a clinic in its own write transaction; returns how long it took."""
    started = time.monotonic()
    with session_scope(engine) as session:
        session.execute(
            text("INSERT INTO clinics (name, slug, timezone, default_region, contact_phone, "
                 "emergency_phone, quiet_start, quiet_end, night_start, night_end, "
                 "alert_ack_minutes, created_at) VALUES (:s, :s, "
                 "'UTC', 'US', '+14155550100', '911', '20:00:00', '08:00:00', '21:00:00', "
                 "'08:00:00', 15, '2026-01-01 00:00:00')"),
            {"s": slug},
        )  # fmt: skip
    return time.monotonic() - started


def test_a_write_does_not_wait_for_an_open_snapshot(engine):
    with read_snapshot(engine) as snapshot:
        assert count_clinics(snapshot) == 0
        assert add_clinic(engine, "during") < 1.0
        assert count_clinics(snapshot) == 0  # the snapshot still sees its own moment
    with session_scope(engine) as session:
        assert count_clinics(session) == 1


def test_a_snapshot_cannot_write(engine):
    with pytest.raises(DBAPIError), read_snapshot(engine) as snapshot:
        snapshot.execute(text("DELETE FROM clinics"))
        snapshot.flush()
        snapshot.commit()
