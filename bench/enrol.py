"""Bulk enrolment throughput on SQLite and PostgreSQL, against the raw insert limit.

For each back-end: a fresh migrated database, one clinic, 10,000 patients enrolled
through the bulk path the CSV import uses (`Importer.enrol_valid`: patients in one
executemany, `enrol_many` per plan: pin, schedule, limits, pacing, message rows), timed
including the commit. Validating the rows (phonenumbers, email-validator, zones) is the
same code as the import too, timed apart and reported as `validated_rows_per_s`.
Then, in the same run and the same database, the limit: the message table is emptied
and the very same message rows are inserted again with one SQLAlchemy Core executemany
(same table, indexes and constraints). The ratio compares message rows/s of the two.

    .venv/bin/python bench/enrol.py [--patients N] [--no-postgres]

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from service import accounts
from service.config import DEFAULT_TEMPLATES_DIR, load_settings
from service.csv_import import BATCH, Importer, ImportReport, ValidRow, validate_row
from service.db import migrate
from service.db.engine import make_engine
from service.db.models import Message
from service.enrollment.rows import table
from service.plans.catalog import load_catalog
from service.rendering import Renderer

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London"]
# The columns the enrolment path writes (the raw insert writes exactly these).
COLUMNS = [
    "dedupe_key",
    "clinic_id",
    "patient_id",
    "enrollment_id",
    "kind",
    "step_key",
    "occurrence",
    "channel",
    "fallback_channel",
    "priority",
    "language",
    "due_at",
    "next_attempt_at",
    "valid_until",
    "status",
    "status_reason",
    "attempts",
    "created_at",
    "updated_at",
]


def patient_rows(count: int, plans: list[str]) -> list[tuple[int, dict[str, str]]]:
    """Synthetic CSV rows: distinct people, zones, plans and procedure times."""
    rows = []
    for i in range(count):
        procedure = NOW + timedelta(days=1 + i % 30, hours=i % 9, minutes=(i * 7) % 60)
        rows.append(
            (
                i + 2,
                {
                    "first_name": f"Pat{i}",
                    "last_name": "Bench",
                    "phone": f"+1415{2000000 + i:07d}",
                    "email": f"pat{i}@example.com",
                    "timezone": ZONES[i % len(ZONES)],
                    "language": "es" if i % 5 == 0 else "en",
                    "plan": plans[i % len(plans)],
                    "procedure_at": procedure.isoformat(),
                    "external_ref": f"B{i}",
                },
            )
        )
    return rows


def enrol_all(engine: Engine, count: int) -> dict[str, Any]:
    """Validate the rows (timed apart: input parsing), then enrol them (the bulk path)."""
    catalog = load_catalog(DEFAULT_TEMPLATES_DIR)
    rows = patient_rows(count, catalog.keys())
    with Session(engine, expire_on_commit=False) as session:
        clinic = accounts.create_clinic(session, name="Bench", contact_phone="+14155550100")
        session.commit()
        started = time.perf_counter()
        valid = [
            validate_row(line, row, clinic=clinic, catalog=catalog, default_plan=None, now=NOW)
            for line, row in rows
        ]
        validated = time.perf_counter()
        assert all(isinstance(v, ValidRow) for v in valid), valid[:3]
        importer = Importer(
            session, clinic, catalog, NOW, "bench", 3, Renderer(DEFAULT_TEMPLATES_DIR)
        )
        report = ImportReport()
        enrolling, cpu = time.perf_counter(), time.process_time()
        for start in range(0, count, BATCH):
            importer.enrol_valid(valid[start : start + BATCH], report)  # type: ignore[arg-type]
        session.commit()
        done = time.perf_counter()
        cpu = time.process_time() - cpu
    assert report.enrolled == count
    return {
        "seconds": done - enrolling,
        "cpu_seconds": cpu,
        "validate_seconds": validated - started,
        "messages": report.messages,
    }


def raw_insert(engine: Engine, vacuum: str) -> dict[str, Any]:
    """Re-insert the same message rows into the emptied table: the limit."""
    with Session(engine) as session:
        columns = [getattr(Message, name) for name in COLUMNS]
        rows = [dict(zip(COLUMNS, row, strict=True)) for row in session.execute(select(*columns))]
    _empty(engine, vacuum)
    with Session(engine) as session:
        started, cpu = time.perf_counter(), time.process_time()
        session.execute(insert(table(Message)), rows)
        session.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": len(rows)}


def _empty(engine: Engine, vacuum: str) -> None:
    """Empty the outbox without per-row foreign-key checks, then compact it.

    A plain DELETE checks every row against the unindexed references to messages
    (alerts, fallbacks): quadratic. TRUNCATE on PostgreSQL; foreign keys off for the
    DELETE on SQLite (they are on again for the timed insert, like for the enrolment).
    """
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # the engine's BEGIN IMMEDIATE hook would wrap VACUUM
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.execute("DELETE FROM message_events")
            cursor.execute("DELETE FROM messages")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(vacuum)
        finally:
            raw.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("TRUNCATE message_events, messages CASCADE"))
        conn.execute(text(vacuum))


def measure(engine: Engine, count: int, vacuum: str) -> dict[str, Any]:
    enrolled = enrol_all(engine, count)
    raw = raw_insert(engine, vacuum)
    enrol_rows_per_s = enrolled["messages"] / enrolled["seconds"]
    raw_rows_per_s = raw["rows"] / raw["seconds"]
    return {
        "patients": count,
        "validated_rows_per_s": round(count / enrolled["validate_seconds"], 1),
        "message_rows": enrolled["messages"],
        "seconds": round(enrolled["seconds"], 3),
        "patients_per_s": round(count / enrolled["seconds"], 1),
        "message_rows_per_s": round(enrol_rows_per_s, 1),
        "raw_insert_rows_per_s": round(raw_rows_per_s, 1),
        "ratio_to_raw": round(enrol_rows_per_s / raw_rows_per_s, 3),
        # This process's CPU only: the whole cost on SQLite (in-process), the client side
        # on PostgreSQL. Steadier than wall time on a shared machine.
        "patients_per_cpu_s": round(count / enrolled["cpu_seconds"], 1),
        "ratio_to_raw_cpu": round(
            (enrolled["messages"] / enrolled["cpu_seconds"]) / (raw["rows"] / raw["cpu_seconds"]),
            3,
        ),
    }


@contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(database_url=f"sqlite:///{folder}/bench.db")
        migrate.upgrade(settings)
        engine = make_engine(settings)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgres_engine() -> Iterator[Engine]:
    name = f"aftercare_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = ADMIN_URL.rpartition("/")
    settings = load_settings(database_url=f"{base}/{name}")
    engine = None
    try:
        migrate.upgrade(settings)
        engine = make_engine(settings)
        yield engine
    finally:
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def machine() -> dict[str, Any]:
    memory = 0
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) // 1024
    return {
        "nproc": os.cpu_count(),
        "memory_mb": memory,
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),  # the machine is shared
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "enrol", "machine": machine()}
    with sqlite_engine() as engine:
        result["sqlite"] = measure(engine, args.patients, "VACUUM")
    print(f"sqlite:     {result['sqlite']}")
    if not args.no_postgres:
        with postgres_engine() as engine:
            result["postgresql"] = measure(engine, args.patients, "VACUUM ANALYZE messages")
        print(f"postgresql: {result['postgresql']}")
    sqlite = result["sqlite"]
    checks = [sqlite["patients_per_s"] >= 2000, sqlite["ratio_to_raw"] >= 0.5]
    if "postgresql" in result:
        checks.append(result["postgresql"]["ratio_to_raw"] >= 0.5)
    result["targets_met"] = all(checks)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
