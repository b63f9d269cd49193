"""Bulk enrolment throughput on SQLite and PostgreSQL, against the raw insert limit.

For each back-end: a fresh migrated database, one clinic, 10,000 patients enrolled
through the bulk path the CSV import uses (`Importer.enrol_valid` with the import's page
cache: patients in one statement, `enrol_many` per plan: pin, schedule, limits, pacing,
message rows), timed including the commit. Validating the rows (phonenumbers,
email-validator, zones) is the same code as the import too, timed apart and reported as
`validated_rows_per_s`. Then, in the same run and the same database, the limit: the
message table is emptied and the very same message rows are inserted again in one
statement, the fastest plain way (`db.queries.insert_rows`: the driver's executemany
of bound tuples on SQLite, a COPY on PostgreSQL; same table, indexes and constraints).
The ratio compares message rows/s of the two. CPU figures count this process and, on
PostgreSQL, the server backend serving it (same machine): steadier than wall time when
it is shared.

The import-size curve: the same bulk path in one transaction (as a CSV import runs) at
2,500, 10,000 and 40,000 patients on each back-end, each in a fresh database; patients/s
should stay flat (`flatness`: the largest import's rate over the smallest's; the target,
`curve_flat`, is within 1.3x per CPU second, the figure a shared machine leaves steady).
`goal_5000`: 5,000 patients/s on SQLite (issue 20's goal; not a pass/fail target).

    .venv/bin/python bench/enrol.py [--patients N] [--curve 2500,10000,40000] [--no-postgres]

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

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from service import accounts
from service.config import DEFAULT_TEMPLATES_DIR, load_settings
from service.csv_import import BATCH, Importer, ImportReport, ValidRow, validate_row
from service.db import migrate
from service.db.engine import bulk_page_cache, make_engine
from service.db.models import Message
from service.db.queries import insert_rows
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


def curve(engine_for: Any, sizes: list[int]) -> dict[str, Any]:
    """Patients/s of imports of each size, each into a fresh database; and per CPU
    second (this process and, on PostgreSQL, its server backend), the load-proof one."""
    points = []
    for size in sizes:
        with engine_for() as engine:
            enrolled = enrol_all(engine, size)
        cpu = enrolled["cpu_seconds"] + enrolled["server_cpu_seconds"]
        points.append({"patients": size, "patients_per_s": round(size / enrolled["seconds"], 1),
                       "patients_per_cpu_s": round(size / cpu, 1)})  # fmt: skip
        print(f"  {size:6d} patients: {points[-1]}", flush=True)
    first, last = points[0], points[-1]
    return {
        "points": points,
        "flatness": round(last["patients_per_s"] / first["patients_per_s"], 3),
        "flatness_cpu": round(last["patients_per_cpu_s"] / first["patients_per_cpu_s"], 3),
    }


def _backend_cpu(session: Session) -> float:
    """CPU seconds of the PostgreSQL backend serving this session (0 on SQLite): the
    server runs on this machine, so its /proc entry is readable."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return 0.0
    pid = connection.connection.driver_connection.info.backend_pid  # type: ignore[union-attr]
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        server = _backend_cpu(session)
        enrolling, cpu = time.perf_counter(), time.process_time()
        with bulk_page_cache(session):  # as `import_rows` does
            for start in range(0, count, BATCH):
                importer.enrol_valid(valid[start : start + BATCH], report)  # type: ignore[arg-type]
        server = _backend_cpu(session) - server
        session.commit()
        done = time.perf_counter()
        cpu = time.process_time() - cpu
    assert report.enrolled == count
    return {
        "seconds": done - enrolling,
        "cpu_seconds": cpu,
        "server_cpu_seconds": server,
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
        server = _backend_cpu(session)
        started, cpu = time.perf_counter(), time.process_time()
        with bulk_page_cache(session):
            insert_rows(session.connection(), table(Message), rows)
        server = _backend_cpu(session) - server
        session.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu + server, "rows": len(rows)}


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
    cpu = enrolled["cpu_seconds"] + enrolled["server_cpu_seconds"]
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
        # CPU time: this process and, on PostgreSQL, its server backend (steadier than
        # wall time on a shared machine).
        "patients_per_cpu_s": round(count / cpu, 1),
        "ratio_to_raw_cpu": round(
            (enrolled["messages"] / cpu) / (raw["rows"] / raw["cpu_seconds"]), 3
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
    parser.add_argument("--curve", default="2500,10000,40000", help="sizes; '' for none")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.curve.split(",") if size]
    result: dict[str, Any] = {"benchmark": "enrol", "machine": machine()}
    with sqlite_engine() as engine:
        result["sqlite"] = measure(engine, args.patients, "VACUUM")
    print(f"sqlite:     {result['sqlite']}", flush=True)
    if not args.no_postgres:
        with postgres_engine() as engine:
            result["postgresql"] = measure(engine, args.patients, "VACUUM ANALYZE messages")
        print(f"postgresql: {result['postgresql']}", flush=True)
    if sizes:
        print("import-size curve, sqlite:")
        result["sqlite"]["curve"] = curve(sqlite_engine, sizes)
        if not args.no_postgres:
            print("import-size curve, postgresql:")
            result["postgresql"]["curve"] = curve(postgres_engine, sizes)
    sqlite = result["sqlite"]
    checks = [sqlite["patients_per_s"] >= 2000, sqlite["ratio_to_raw"] >= 0.5]
    if "postgresql" in result:
        checks.append(result["postgresql"]["ratio_to_raw"] >= 0.5)
    curves = [
        result[name]["curve"]
        for name in ("sqlite", "postgresql")
        if "curve" in result.get(name, {})
    ]
    result["curve_flat"] = all(c["flatness_cpu"] >= 1 / 1.3 for c in curves) if curves else None
    result["goal_5000"] = sqlite["patients_per_s"] >= 5000
    result["targets_met"] = all(checks) and result["curve_flat"] is not False
    print(json.dumps(result))


if __name__ == "__main__":
    main()
