"""Query plans of the claim and the pre-send checks on PostgreSQL, at a small and a large
number of future rows: their cost must follow the due rows, not the table.

Seeds `--clinics` clinics each on its own paced number, `--patients` patients each in
a Botox enrolment, `--due` due plan texts and `--small` future rows (due over the next
180 days), then runs one real claim (`service.dispatch.intake.claim_jobs`: the senders'
locks, the lane probes, the UPDATE that claims, the events, the related rows and open
alerts the checks read, the stored content) recording every statement it sends, plus
the fence (`service.dispatch.fence`: the last opt-out check and the call mark) for the
jobs it returned. Each statement is then run again under EXPLAIN (ANALYZE, BUFFERS) in
a transaction rolled back, with the claim undone first, so each sees the queue as the
claim did. Then rows are added up to `--large` future rows, ANALYZEd, and the same is
done again. Prints each plan at the large size and a table (time and buffers per
statement at both sizes); last line one JSON object.

    .venv/bin/python bench/claim_plans.py [--large 1000000] [--small 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch_common import postgres_database
from service import senders
from service.accounts import create_clinic
from service.config import DEFAULT_TEMPLATES_DIR, load_settings
from service.db.engine import make_engine
from service.db.models import Enrollment, Patient
from service.dispatch.context import DispatchContext
from service.dispatch.fence import _PG_GROUP
from service.dispatch.intake import claim_jobs
from service.plans.catalog import load_catalog
from service.plans.store import pin_plan

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
ROWS = (
    "INSERT INTO messages (dedupe_key, clinic_id, patient_id, enrollment_id, kind, step_key,"
    " occurrence, channel, priority, language, due_at, next_attempt_at, valid_until, status,"
    " attempts, claim_count, created_at, updated_at)"
    " SELECT :tag || g, e.clinic_id, e.patient_id, e.id, 'plan', 'day1_care', g, 'sms',"
    " CASE WHEN g % 4 = 0 THEN 'safety' ELSE 'routine' END, 'en', t.at, t.at,"
    " t.at + interval '1 day', 'scheduled', 0, 0, :now, :now"
    " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS g"
    " JOIN enrollments e ON e.id = 1 + g % CAST(:enrolments AS integer)"
    " CROSS JOIN LATERAL (SELECT CAST(:now AS timestamptz) + :sign * (interval '1 minute'"
    "   + (g % 15552000) * interval '1 second') AS at) AS t"
)


def seed_people(engine: Engine, clinics: int, patients: int) -> None:
    """Clinics on their own numbers (paced at 100/s), patients, one enrolment each."""
    plan = load_catalog(DEFAULT_TEMPLATES_DIR).get("botox")
    with Session(engine) as session:
        made = []
        for n in range(clinics):
            sender = f"+1415300{n:04d}"
            clinic = create_clinic(
                session,
                name=f"Plans {n}",
                contact_phone=sender,
                timezone="UTC",
                slug=f"plans-{n}",
                sms_from=sender,
                quiet_start=wall(0),
                quiet_end=wall(0),
            )
            clinic.night_start = clinic.night_end = wall(0)
            row = senders.ensure(session, "sms", sender)
            row.rate_per_second, row.burst = 100.0, 100
            made.append(clinic)
        pinned = pin_plan(session, plan)
        consent = NOW - timedelta(days=2)
        people = [
            Patient(
                clinic_id=made[i % clinics].id,
                first_name="P",
                timezone="UTC",
                phone=f"+1415{2000000 + i:07d}",
                sms_consent_at=consent,
            )
            for i in range(patients)
        ]
        session.add_all(people)
        session.flush()
        session.add_all(
            Enrollment(
                clinic_id=p.clinic_id,
                patient_id=p.id,
                plan_key=pinned.key,
                plan_version=pinned.version,
                procedure_at=consent,
            )
            for p in people
        )
        session.commit()


def add_rows(engine: Engine, tag: str, first: int, last: int, *, due: bool) -> None:
    """Rows `first`..`last`: due (up to 180 days... back to a minute ago) or future."""
    with engine.begin() as conn:
        enrolments = conn.execute(text("SELECT count(*) FROM enrollments")).scalar()
        conn.execute(
            text(ROWS),
            {
                "tag": tag,
                "first": first,
                "last": last,
                "now": NOW,
                "enrolments": enrolments,
                "sign": -1 if due else 1,
            },
        )
        if due:  # due a minute to a few hours ago, still valid
            conn.execute(
                text(
                    "UPDATE messages SET next_attempt_at = :now - (id % 600) * "
                    "interval '10 seconds', due_at = :now - (id % 600) * "
                    "interval '10 seconds', valid_until = :now + interval '1 day' "
                    "WHERE dedupe_key LIKE :like"
                ),
                {"now": NOW, "like": f"{tag}%"},
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE messages"))


class Recorder:
    """Every statement an engine sends (executemany left out), with its parameters."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        if not executemany and statement.lstrip().upper().startswith(
            ("SELECT", "UPDATE", "INSERT", "WITH")
        ):
            self.seen.append((statement, params))


def claim_once(engine: Engine, limit: int) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """One real claim's statements, and the fence's parameters for its jobs."""
    settings = load_settings(database_url=str(engine.url.render_as_string(hide_password=False)))
    ctx = DispatchContext(settings=settings, engine=engine, worker_id="plans", clock=lambda: NOW)
    recorder = Recorder(engine)
    claimed = claim_jobs(ctx, limit=limit)
    event.remove(engine, "before_cursor_execute", recorder._record)
    fence = {
        "ids": [j.message_id for j in claimed.jobs],
        "claims": [j.claim for j in claimed.jobs],
        "fences": [j.opt_out or "" for j in claimed.jobs],
        "now": NOW,
        "fresh_after": NOW - timedelta(seconds=20),
    }
    return recorder.seen, fence


def undo_claim(engine: Engine) -> None:
    """The queue as the claim found it (the events it wrote stay: they are not read)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE messages SET status = 'scheduled', claimed_at = NULL, "
                "claimed_by = NULL, claim_count = claim_count - 1, body = NULL "
                "WHERE status = 'sending'"
            )
        )
        conn.execute(text("UPDATE senders SET next_slot_at = NULL"))


def explain(engine: Engine, statement: str, params: Any) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement, in a transaction rolled back."""
    raw: Any = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        return "\n".join(row[0] for row in cursor.fetchall())
    finally:
        raw.rollback()
        raw.close()


def apply_claim(engine: Engine, fence: dict[str, Any]) -> None:
    """The claim's rows `sending` again, committed (the fence runs on rows claimed in an
    earlier transaction: in the same one, PostgreSQL would also re-check their foreign
    keys, which the real fence never pays)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE messages SET status = 'sending', claimed_at = :now, "
                "claim_count = claim_count + 1 WHERE id = ANY(:ids)"
            ),
            {"now": fence["now"], "ids": fence["ids"]},
        )


def label(statement: str) -> str:
    flat = " ".join(statement.split())
    table = re.search(r"\b(?:FROM|UPDATE|INTO)\s+(\w+)", flat)
    return f"{flat.split()[0]} {table.group(1) if table else '?'}: {flat[:70]}"


def measure(engine: Engine, limit: int) -> list[dict[str, Any]]:
    claim_once(engine, limit)  # the first claim also makes the default senders' rows
    undo_claim(engine)
    statements, fence = claim_once(engine, limit)
    undo_claim(engine)
    found = []
    for statement, params in statements:
        plan = explain(engine, statement, params)
        found.append(summary(label(statement), plan))
    apply_claim(engine, fence)
    plan = explain(engine, _PG_GROUP, fence)
    undo_claim(engine)
    found.append(summary("fence: UPDATE messages (opt-out check, call mark)", plan))
    return grouped(found)


def grouped(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statements with the same text (one UPDATE per sender) as one line: summed, and
    the plan of the costliest."""
    groups: dict[str, dict[str, Any]] = {}
    for item in found:
        group = groups.setdefault(item["statement"], {**item, "ms": 0.0, "buffers": 0, "n": 0})
        group["n"] += 1
        group["ms"] += item["ms"] or 0.0
        group["buffers"] += item["buffers"]
        group["seq_scan_on_messages"] |= item["seq_scan_on_messages"]
    return list(groups.values())


def summary(name: str, plan: str) -> dict[str, Any]:
    ms = re.search(r"Execution Time: ([\d.]+) ms", plan)
    hits = [int(h) for h in re.findall(r"shared hit=(\d+)", plan)]
    reads = [int(r) for r in re.findall(r"read=(\d+)", plan)]
    return {
        "statement": name,
        "ms": float(ms.group(1)) if ms else None,
        "buffers": (max(hits) if hits else 0) + (max(reads) if reads else 0),
        "seq_scan_on_messages": bool(re.search(r"Seq Scan on messages", plan)),
        "plan": plan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinics", type=int, default=50)
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--due", type=int, default=5000)
    parser.add_argument("--small", type=int, default=10000)
    parser.add_argument("--large", type=int, default=1000000)
    parser.add_argument("--limit", type=int, default=400, help="rows per claim (the default)")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}")
    with postgres_database("aftercare_claim_plans") as url:
        engine = make_engine(load_settings(database_url=url))
        seed_people(engine, args.clinics, args.patients)
        add_rows(engine, "d:", 1, args.due, due=True)
        add_rows(engine, "f:", 1, args.small, due=False)
        small = measure(engine, args.limit)
        began = time.monotonic()
        add_rows(engine, "f:", args.small + 1, args.large, due=False)
        print(f"added {args.large - args.small} future rows in {time.monotonic() - began:.0f} s")
        large = measure(engine, args.limit)
        engine.dispose()
    report(small, large, args)


def report(small: list[dict], large: list[dict], args: argparse.Namespace) -> None:
    for item in large:
        print(f"\n-- {item['statement']} (x{item['n']})\n{item['plan']}")
    heads = ("ms small", "ms large", "buf small", "buf large")
    print(f"\n{'statement (times run)':74} " + " ".join(f"{h:>9}" for h in heads))
    rows = []
    for a, b in zip(small, large, strict=False):
        name = f"{a['statement'][:66]} (x{a['n']})"
        print(f"{name:74} {a['ms']:9.2f} {b['ms']:9.2f} {a['buffers']:9d} {b['buffers']:9d}")
        rows.append(
            {
                "statement": a["statement"],
                "times_run": a["n"],
                "ms": [round(a["ms"], 3), round(b["ms"], 3)],
                "buffers": [a["buffers"], b["buffers"]],
                "seq_scan_on_messages": b["seq_scan_on_messages"],
            }
        )
    total = [round(sum(x["ms"] or 0 for x in side), 2) for side in (small, large)]
    print(
        json.dumps(
            {
                "future_rows": [args.small, args.large],
                "due_rows": args.due,
                "claim_limit": args.limit,
                "total_ms": total,
                "seq_scans_on_messages": sum(r["seq_scan_on_messages"] for r in rows),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "statements": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
