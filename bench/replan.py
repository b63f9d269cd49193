"""How long a clinic settings change takes when it re-plans every unsent message, against
enrolling the same patients (the baseline, measured in the same run and database).

On PostgreSQL (and SQLite): a fresh migrated database, one clinic, N patients enrolled
through the bulk path (bench/enrol.py's `enrol_all`: every message in the future, so
all are unsent), then new quiet hours (08:00 -> 10:30 end) through
`service.clinic_settings.change_settings`, timed including the commit: the time the
request takes and the time its rows stay locked (a claim skips them meanwhile). Then the
same change back (08:00), a second re-plan of the same rows.

    .venv/bin/python bench/replan.py [--patients N] [--no-sqlite]

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import time as wall
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bench.enrol import NOW, enrol_all, machine, postgres_engine, sqlite_engine
from service.clinic_settings import change_settings
from service.clinics import ClinicChanges
from service.db.models import Clinic


def replan(engine: Engine, end: wall) -> dict[str, Any]:
    with Session(engine, expire_on_commit=False) as session:
        clinic = session.exec(select(Clinic)).one()
        started, cpu = time.perf_counter(), time.process_time()
        result = change_settings(session, clinic, ClinicChanges(quiet_end=end), actor="bench",
                                 now=NOW, daily_cap=3)  # fmt: skip
        session.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.replanned is not None
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            **result.replanned.as_dict()}  # fmt: skip


def measure(engine: Engine, patients: int) -> dict[str, Any]:
    enrolled = enrol_all(engine, patients)
    first = replan(engine, wall(10, 30))
    back = replan(engine, wall(8, 0))
    return {
        "patients": patients,
        "message_rows": enrolled["messages"],
        "enrol_seconds": round(enrolled["seconds"], 3),
        "replan": first,
        "replan_back": back,
        "replan_rows_per_s": round(enrolled["messages"] / first["seconds"], 1),
        # Re-planning a clinic against enrolling its patients afresh (same rows).
        "ratio_to_enrol": round(first["seconds"] / enrolled["seconds"], 3),
        "ratio_to_enrol_cpu": round(first["cpu_seconds"] / enrolled["cpu_seconds"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2_000)
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "replan", "machine": machine()}
    with postgres_engine() as engine:
        result["postgresql"] = measure(engine, args.patients)
    print(f"postgresql: {result['postgresql']}")
    if not args.no_sqlite:
        with sqlite_engine() as engine:
            result["sqlite"] = measure(engine, args.patients)
        print(f"sqlite:     {result['sqlite']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
