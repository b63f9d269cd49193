"""Lateness at a steady rate: p99 of (sent - due) for SMS due at 100 messages/s.

One `aftercare worker` process, the real twilio SDK and the local fake (its own process),
on SQLite and PostgreSQL. Rows are seeded with due times spread evenly at `--rate` per
second, starting a few seconds ahead; the worker sleeps until each is due. Target: p99
<= 1 s. The baseline measured in the same run is the bare SDK call's own p99 latency
against the same fake (lateness cannot be below one call). Last line: one JSON object.

    .venv/bin/python bench/lateness.py [--rate 100] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session, select

from bench.dispatch_common import (
    SENDER,
    database,
    fake_twilio,
    machine,
    seed,
    start_worker,
    stop_worker,
    worker_env,
)
from service.channels.twilio_sms import TwilioSmsAdapter
from service.config import load_settings
from service.db.engine import make_engine
from service.db.models import Message, WorkerHeartbeat
from service.fakes.twilio_server import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN

LEAD = 3.0  # seconds from moving the rows into place to the first due time


def call_latency_p99(twilio_url: str, calls: int = 200) -> float:
    settings = load_settings(
        sms_provider="twilio",
        twilio_account_sid=TEST_ACCOUNT_SID,
        twilio_auth_token=TEST_AUTH_TOKEN,
        twilio_from=SENDER,
        twilio_api_base_url=twilio_url,
    )
    client = TwilioSmsAdapter(settings=settings).client
    samples = []
    for i in range(calls):
        started = time.perf_counter()
        client.messages.create(to=f"+1650{i:07d}", from_=SENDER, body="latency probe")
        samples.append(time.perf_counter() - started)
    return percentile(samples, 99)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run(kind: str, twilio_url: str, rate: float, seconds: float, workdir: Path) -> dict:
    count = int(rate * seconds)
    with database(kind, workdir) as url:
        settings = load_settings(database_url=url)
        parked = datetime.now(UTC) + timedelta(days=1)  # seeded far ahead, moved below
        seed(settings, [parked + timedelta(seconds=i / rate) for i in range(count)])
        proc = start_worker(worker_env(url, twilio_url, 8))
        engine = make_engine(settings)
        try:
            _wait_ready(engine, proc)
            _move_due_times(engine, parked, datetime.now(UTC) + timedelta(seconds=LEAD))
            rows = _wait_all_sent(engine, count, proc, timeout=LEAD + seconds + 120)
        finally:
            stop_worker(proc)
            engine.dispose()
    late = [(sent - due).total_seconds() for due, sent in rows]
    return {
        "messages": count,
        "p50_s": round(statistics.median(late), 3),
        "p99_s": round(percentile(late, 99), 3),
        "max_s": round(max(late), 3),
        "early": sum(1 for x in late if x < 0),
    }


def _wait_ready(engine, proc, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """The worker is up once its first heartbeat is in the table."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited with {proc.returncode}")
        with Session(engine) as session:
            if session.exec(select(WorkerHeartbeat)).first() is not None:
                return
        time.sleep(0.2)
    raise SystemExit("worker did not start")


def _move_due_times(engine, parked: datetime, first: datetime) -> None:  # type: ignore[no-untyped-def]
    """Shift every row so the first falls due at `first` (one UPDATE, after start-up)."""
    shift = first - parked
    with Session(engine) as session:
        for message in session.exec(select(Message)).all():
            message.due_at += shift
            message.next_attempt_at += shift
            message.valid_until = message.valid_until + shift if message.valid_until else None
            session.add(message)
        session.commit()


def _wait_all_sent(engine, count: int, proc, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    query = select(Message.due_at, Message.sent_at).where(Message.status == "sent")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited with {proc.returncode}")
        with Session(engine) as session:
            rows = session.exec(query).all()
        if len(rows) >= count:
            return rows
        time.sleep(0.5)
    raise SystemExit(f"not all {count} messages were sent in {timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    result: dict = {"bench": "lateness", "rate_per_s": args.rate, "machine": machine()}
    with fake_twilio() as url, tempfile.TemporaryDirectory() as tmp:
        result["sdk_call_p99_s"] = round(call_latency_p99(url), 4)
        print(f"bare SDK call p99:  {result['sdk_call_p99_s']:.4f} s (the floor)")
        for kind in args.backends.split(","):
            figures = run(kind, url, args.rate, args.seconds, Path(tmp))
            figures["p99_to_target"] = round(figures["p99_s"] / 1.0, 3)
            result[kind] = figures
            print(
                f"{kind:10s} at {args.rate:.0f}/s: p50 {figures['p50_s']:.3f} s, "
                f"p99 {figures['p99_s']:.3f} s, max {figures['max_s']:.3f} s"
            )
    kinds = args.backends.split(",")
    result["target_p99_s"] = 1.0
    result["meets_target"] = all(result[k]["p99_s"] <= 1.0 for k in kinds)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
