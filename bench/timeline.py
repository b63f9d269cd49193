"""A patient page with a long history, in PostgreSQL: the staff timeline is paged.

Creates a temporary database, migrates it, enrols one patient in a real plan (the
preview texts render from it), then bulk-loads a history for that patient with
INSERT ... SELECT generate_series: N past plan messages (delivered, two events each, a
stored body) and N/100 replies, as long-running plans and replies accumulate. Times
GET /app/patients/{id} through the real app (session cookie, templates and all): the
first page (around now) and a page deep in the history (following "Earlier" links),
for histories of 50, 5,050 and 20,050 messages. Target: flat, the first page with the
largest history within 1.5x of the smallest's (CPU time).

Baseline, measured in the same run on the same data: the whole history on one page
(the same view with its page limit lifted, `views_patients.TIMELINE_LIMIT = None`: not
something users can ask for), i.e. what the page did before it was paged.

Usage: .venv/bin/python bench/timeline.py [--sizes 5050,20050] [--requests N]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import Session

from service import accounts, enrollment
from service.api.app import create_app
from service.config import DEFAULT_TEMPLATES_DIR, load_settings
from service.db import migrate
from service.db.engine import make_engine
from service.db.models import Clinic, Patient
from service.domain import Role
from service.plans.catalog import load_catalog
from service.rendering import Renderer
from service.web import views_patients
from service.web.timeline_data import PAGE_SIZE

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "bench password 123"
FLAT_RATIO = 1.5  # target: a page costs the same whatever the history

HISTORY_SQL = """
INSERT INTO messages (dedupe_key, clinic_id, patient_id, enrollment_id, kind, step_key,
    occurrence, channel, priority, language, due_at, next_attempt_at, status, attempts,
    sent_at, delivered_at, provider, provider_id, body, segments, created_at, updated_at)
SELECT 'hist:' || g, :clinic, :patient, :enrollment, 'plan', 'day1_care', 0, 'sms',
       'routine', 'en', t.due, t.due, 'delivered', 1, t.due, t.due + interval '5 seconds',
       'twilio', 'SMH' || md5(g::text),
       'Lakeside: cold compress 10 min at a time today. Call 555-0100 with questions.', 1,
       t.due, t.due
FROM generate_series(1, :n) AS g
CROSS JOIN LATERAL (SELECT :start - g * interval '3 hours' AS due) AS t
"""
EVENTS_SQL = """
INSERT INTO message_events (message_id, at, from_status, to_status, reason, provider_status)
SELECT id, sent_at, 'sending', 'sent', NULL, 'queued' FROM messages WHERE patient_id = :patient
  AND dedupe_key LIKE 'hist:%'
UNION ALL
SELECT id, delivered_at, 'sent', 'delivered', NULL, 'delivered' FROM messages
 WHERE patient_id = :patient AND dedupe_key LIKE 'hist:%'
"""
REPLIES_SQL = """
INSERT INTO inbound_messages (provider_id, channel, clinic_id, patient_id, from_address, body,
    media_urls, intent, matches, received_at)
SELECT 'SMIN' || md5(g::text), 'sms', :clinic, :patient, '+14155550142', 'feeling fine, thanks',
       '[]', 'normal', '[]', :start - g * interval '11 hours' - interval '7 minutes'
FROM generate_series(1, :n) AS g
"""


def _url(name: str) -> str:
    return ADMIN_URL.rpartition("/")[0] + "/" + name


def _admin():  # type: ignore[no-untyped-def]
    return create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")


def seed(url: str, history: int) -> int:
    """One clinic, a staff user, a patient enrolled in a real plan, and `history` past
    messages (plus replies); returns the patient's id."""
    settings = load_settings(database_url=url, scheduler_enabled=False, environment="test")
    engine = make_engine(settings)
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        clinic = Clinic(name="Lakeside", slug="lakeside", contact_phone="+14155550100")
        session.add(clinic)
        session.flush()
        accounts.create_user(
            session,
            email="staff@bench.test",
            role=Role.STAFF,
            clinic_id=clinic.id,
            password=PASSWORD,
        )
        patient = Patient(
            clinic_id=clinic.id,
            first_name="Núria",
            last_name="Núñez",  # type: ignore[arg-type]
            phone="+14155550142",
            timezone="America/New_York",
            sms_consent_at=now,
            email="nuria@example.test",
            email_consent_at=now,
        )
        session.add(patient)
        session.flush()
        plan = load_catalog(DEFAULT_TEMPLATES_DIR).get("thread_lift")
        done = enrollment.enrol(
            session,
            clinic=clinic,
            patient=patient,
            plan=plan,
            procedure_at=now - timedelta(hours=1),
            now=now,
            actor="bench",
            renderer=Renderer(DEFAULT_TEMPLATES_DIR),
        )
        session.commit()
        ids = {"clinic": clinic.id, "patient": patient.id, "enrollment": done.enrollment.id}
    with engine.begin() as conn:
        start = now - timedelta(hours=2)
        conn.execute(text(HISTORY_SQL), {**ids, "n": history, "start": start})
        conn.execute(text(EVENTS_SQL), {"patient": ids["patient"]})
        conn.execute(
            text(REPLIES_SQL),
            {
                "clinic": ids["clinic"],
                "patient": ids["patient"],
                "n": max(history // 100, 1),
                "start": start,
            },
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return int(ids["patient"])  # type: ignore[arg-type]


def timed(fn: Callable[[], object], n: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per call (the app runs in this process, so CPU
    time is the page's own work, less sensitive to a busy machine than wall time)."""
    fn()  # warm caches and plans
    wall, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def _login(client: TestClient) -> None:
    form = client.get("/app/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/app/login",
        data={"email": "staff@bench.test", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def _get(client: TestClient, url: str) -> Callable[[], object]:
    def go() -> object:
        response = client.get(url)
        assert response.status_code == 200 and "Timeline" in response.text, response.text[:500]
        return response

    return go


def _deep(client: TestClient, start: str, pages: int) -> str:
    """Follow up to `pages` "Earlier" links from `start`: a page deep in the history (the
    first page of a short history)."""
    url = start
    for _ in range(pages):
        found = re.search(r'rel="prev" href="([^"]+)"', client.get(url).text)
        if not found:
            break
        url = html.unescape(found.group(1))
    return url


Samples = tuple[list[float], list[float]]


def run(url: str, patient_id: int, requests: int) -> dict[str, Samples]:
    settings = load_settings(database_url=url, scheduler_enabled=False, environment="test")
    engine = make_engine(settings)
    app = create_app(settings, engine=engine)
    page = f"/app/patients/{patient_id}"
    results: dict[str, Samples] = {}
    with TestClient(app) as client:
        _login(client)
        results["first page"] = timed(_get(client, page), requests)
        results["page 20 back"] = timed(_get(client, _deep(client, page, 20)), requests)
        views_patients.TIMELINE_LIMIT = None  # the baseline: everything on one page
        try:
            results["baseline: whole history"] = timed(_get(client, page), max(requests // 4, 3))
        finally:
            views_patients.TIMELINE_LIMIT = PAGE_SIZE
    engine.dispose()
    return results


def bench_size(history: int, requests: int) -> dict[str, Samples]:
    name = f"aftercare_bench_tl_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = _url(name)
        migrate.upgrade(load_settings(database_url=url))
        patient_id = seed(url, history)
        return run(url, patient_id, requests)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,5050,20050", help="past messages per patient")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    summary: dict[str, object] = {"bench": "staff_timeline", "sizes": sizes}
    firsts = []
    for size in sizes:
        results = bench_size(size, args.requests)
        for name, (wall, cpu) in results.items():
            print(
                f"{size:>7,} messages  {name:26s} wall median {statistics.median(wall):8.1f} ms"
                f"  max {max(wall):8.1f} ms   CPU median {statistics.median(cpu):8.1f} ms"
            )
        first = statistics.median(results["first page"][1])
        firsts.append(first)
        summary[f"first_page_cpu_ms_{size}"] = round(first, 1)
        summary[f"first_page_wall_ms_{size}"] = round(
            statistics.median(results["first page"][0]), 1
        )
        summary[f"deep_page_cpu_ms_{size}"] = round(
            statistics.median(results["page 20 back"][1]), 1
        )
        whole = statistics.median(results["baseline: whole history"][1])
        summary[f"baseline_whole_history_cpu_ms_{size}"] = round(whole, 1)
        summary[f"speedup_{size}"] = round(whole / first, 1)
    # Flat: the largest history's first page within FLAT_RATIO of the smallest's.
    summary["largest_vs_smallest_first_page"] = round(firsts[-1] / firsts[0], 2)
    summary["pass"] = firsts[-1] <= FLAT_RATIO * firsts[0]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
