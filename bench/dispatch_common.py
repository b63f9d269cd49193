"""Shared by bench/dispatch.py and bench/lateness.py: the fake, databases, workers, seeding."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlmodel import Session

from service.config import DEFAULT_TEMPLATES_DIR, REPO_ROOT, Settings, load_settings
from service.db import migrate
from service.db.engine import make_engine
from service.db.models import Clinic, Enrollment, Message, Patient
from service.domain import Channel, MessageKind
from service.fakes.twilio_server import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from service.plans.catalog import load_catalog
from service.plans.store import pin_plan

PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SENDER = "+15005550006"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def fake_twilio(*, quiet: bool = False) -> Iterator[str]:
    """The fake Twilio server in its own process (so it does not share our GIL);
    `quiet`: without the tracebacks of clients that went away (a killed worker's)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.fakes.twilio_server",
            "--port",
            str(port),
            "--no-callbacks",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh, migrated database URL: a SQLite file or a new PostgreSQL database."""
    if kind == "sqlite":
        url = f"sqlite:///{workdir}/bench-{uuid.uuid4().hex[:6]}.db"
        migrate.upgrade(load_settings(database_url=url))
        yield url
        return
    with postgres_database("aftercare_bench") as url:
        yield url


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database named after the bench, dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rpartition("/")[0] + "/" + name
    try:
        migrate.upgrade(load_settings(database_url=url))
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def worker_env(db_url: str, twilio_url: str, concurrency: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_FROM": SENDER,
        "TWILIO_API_BASE_URL": twilio_url,
        "DISPATCH_CONCURRENCY": str(concurrency),
        **extra,
    }


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "service", "worker"], env=env, cwd=REPO_ROOT)


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set size so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


def seed(settings: Settings, due_times: list[datetime]) -> None:
    """One consenting patient, enrolment and due plan SMS per due time."""
    engine = make_engine(settings)
    plan = load_catalog(DEFAULT_TEMPLATES_DIR).get("botox")
    with Session(engine) as session:
        clinic = Clinic(
            name="Bench",
            slug=f"bench-{uuid.uuid4().hex[:6]}",
            contact_phone="+14155550100",
            timezone="UTC",
            quiet_start=wall(0),
            quiet_end=wall(0),
            night_start=wall(0),
            night_end=wall(0),
        )
        session.add(clinic)
        pinned = pin_plan(session, plan)
        session.flush()
        for start in range(0, len(due_times), 2000):
            _seed_chunk(session, clinic, pinned.key, pinned.version, due_times, start)
        session.commit()
    engine.dispose()


def _seed_chunk(
    session: Session, clinic: Clinic, key: str, version: int, due_times: list[datetime], start: int
) -> None:
    chunk = due_times[start : start + 2000]
    consent = datetime.now(UTC) - timedelta(days=1)
    patients = [
        Patient(
            clinic_id=clinic.id,
            first_name="Bench",
            phone=f"+1415{start + i:07d}",
            timezone="UTC",
            sms_consent_at=consent,
        )
        for i in range(len(chunk))
    ]
    session.add_all(patients)
    session.flush()
    enrollments = [
        Enrollment(
            clinic_id=clinic.id,
            patient_id=p.id,
            plan_key=key,
            plan_version=version,
            procedure_at=consent,
        )
        for p in patients
    ]
    session.add_all(enrollments)
    session.flush()
    session.add_all(
        Message(
            dedupe_key=f"enr:{e.id}:day1_care:0:sms",
            clinic_id=clinic.id,
            patient_id=e.patient_id,
            enrollment_id=e.id,
            kind=MessageKind.PLAN,
            step_key="day1_care",
            channel=Channel.SMS,
            due_at=due,
            next_attempt_at=due,
            valid_until=due + timedelta(hours=1),
        )
        for e, due in zip(enrollments, chunk, strict=True)
    )
    session.flush()


def machine() -> str:
    cpu = "unknown cpu"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"
