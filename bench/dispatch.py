"""Dispatch throughput: 10,000 due SMS through the real twilio SDK to the local fake.

Measures, in one run against the same fake (its own process) with the same concurrency:
- the limit: a raw loop of `client.messages.create` on a thread pool, run before and
  after each worker run (their mean is the limit that run is compared with);
- `aftercare worker` (one process) sending the same number of due plan SMS on SQLite
  and on PostgreSQL: rendering, the pre-send checks under the row lock, the provider
  call and the recorded outcome; its peak RSS (VmHWM);
- CPU per message (load-independent on a shared machine): the raw loop's own process
  versus the worker process while it sends (from its first to its last poll).
Target: the worker reaches at least 70% of the raw limit. Last line: one JSON object.

    .venv/bin/python bench/dispatch.py [--messages 10000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func
from sqlmodel import Session, select

from bench.dispatch_common import (
    SENDER,
    cpu_seconds,
    database,
    fake_twilio,
    machine,
    peak_rss_mb,
    seed,
    start_worker,
    stop_worker,
    worker_env,
)
from service.channels.twilio_sms import TwilioSmsAdapter
from service.config import load_settings
from service.db.engine import make_engine
from service.db.models import Message
from service.fakes.twilio_server import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN

BODY = (
    "Bench Clinic: Day 1: mild headache or tenderness can happen. A cool pack can ease a "
    "bruise; press gently, don't massage. Emergency: call 911. Clinic: +14155550100."
)


def raw_sdk(twilio_url: str, count: int, concurrency: int) -> tuple[float, float]:
    """Messages/s of the bare SDK loop (same HTTP client, timeout and pool as the adapter)
    and its CPU milliseconds per message."""
    settings = load_settings(
        sms_provider="twilio",
        twilio_account_sid=TEST_ACCOUNT_SID,
        twilio_auth_token=TEST_AUTH_TOKEN,
        twilio_from=SENDER,
        twilio_api_base_url=twilio_url,
        dispatch_concurrency=concurrency,
    )
    client = TwilioSmsAdapter(settings=settings).client

    def create(i: int) -> None:
        client.messages.create(
            to=f"+1650{i:07d}",
            from_=SENDER,
            body=BODY,
            status_callback=f"http://127.0.0.1:9/webhooks/twilio/status?mid={i}",
        )

    # Each thread takes the next index until none is left (no future per call): the
    # cheapest way to keep `concurrency` calls in flight, as the dispatcher does.
    numbers = iter(range(count))
    lock = threading.Lock()

    def take_calls() -> None:
        while True:
            with lock:
                i = next(numbers, None)
            if i is None:
                return
            create(i)

    started, cpu = time.perf_counter(), _own_cpu()
    with ThreadPoolExecutor(concurrency) as pool:
        for task in [pool.submit(take_calls) for _ in range(concurrency)]:
            task.result()
    elapsed, cpu = time.perf_counter() - started, _own_cpu() - cpu
    return count / elapsed, 1000 * cpu / count


def _raw(url: str, args: argparse.Namespace) -> tuple[float, float]:
    rate, cpu = raw_sdk(url, args.messages, args.concurrency)
    print(f"raw SDK loop:        {rate:8.1f} msg/s (the limit), {cpu:.3f} CPU ms/msg")
    return rate, cpu


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def worker_run(kind: str, twilio_url: str, count: int, concurrency: int, workdir: Path) -> dict:
    with database(kind, workdir) as url:
        settings = load_settings(database_url=url)
        seed(settings, [datetime.now(UTC) - timedelta(seconds=1)] * count)
        proc = start_worker(worker_env(url, twilio_url, concurrency))
        engine = make_engine(settings)
        try:
            cpu_ms = _wait_all_sent(engine, count, proc)
            rss = peak_rss_mb(proc.pid)
        finally:
            stop_worker(proc)
        with Session(engine) as session:
            first, last = session.exec(
                select(func.min(Message.sent_at), func.max(Message.sent_at))
            ).one()
        engine.dispose()
    assert first is not None and last is not None
    span = (last - first).total_seconds()
    return {
        "msgs_per_s": round((count - 1) / span, 1),
        "cpu_ms_per_msg": round(cpu_ms, 3),
        "peak_rss_mb": rss,
    }


def _wait_all_sent(engine, count: int, proc, timeout: float = 600) -> float:
    """Wait until every row is sent; the worker's CPU ms per message meanwhile (measured
    from the first poll that saw a sent row, so start-up is left out)."""
    deadline = time.monotonic() + timeout
    query = select(func.count()).select_from(Message).where(Message.status == "sent")
    first: tuple[int, float] | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited with {proc.returncode}")
        with Session(engine) as session:
            sent = session.exec(query).one()
        cpu = cpu_seconds(proc.pid)
        if first is None and sent > 0:
            first = (sent, cpu)
        if sent >= count:
            assert first is not None
            return 1000 * (cpu - first[1]) / max(1, sent - first[0])
        time.sleep(0.25)
    raise SystemExit(f"worker did not send {count} messages in {timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    result: dict = {
        "bench": "dispatch",
        "messages": args.messages,
        "concurrency": args.concurrency,
        "machine": machine(),
    }
    with fake_twilio() as url, tempfile.TemporaryDirectory() as tmp:
        # The limit is measured before and after each worker run and the two are averaged:
        # on a shared machine the speed drifts within a run, and a single raw run taken
        # minutes before the worker's would make the ratio follow the drift.
        raws = [_raw(url, args)]
        for kind in args.backends.split(","):
            run = worker_run(kind, url, args.messages, args.concurrency, Path(tmp))
            raws.append(_raw(url, args))
            limit = (raws[-2][0] + raws[-1][0]) / 2
            limit_cpu = (raws[-2][1] + raws[-1][1]) / 2
            run["limit_msgs_per_s"] = round(limit, 1)
            run["ratio_to_raw"] = round(run["msgs_per_s"] / limit, 3)
            run["cpu_ratio_to_raw"] = round(limit_cpu / run["cpu_ms_per_msg"], 3)
            result[kind] = run
            print(
                f"worker on {kind:10s} {run['msgs_per_s']:8.1f} msg/s = "
                f"{run['ratio_to_raw']:.0%} of the limit ({limit:.1f} msg/s, the raw runs "
                f"before and after), {run['cpu_ms_per_msg']:.3f} CPU ms/msg (raw/worker CPU "
                f"{run['cpu_ratio_to_raw']:.0%}), peak RSS {run['peak_rss_mb']} MB"
            )
        result["raw_sdk_msgs_per_s"] = [round(rate, 1) for rate, _ in raws]
        result["raw_sdk_cpu_ms_per_msg"] = [round(cpu, 3) for _, cpu in raws]
    ratios = [result[k]["ratio_to_raw"] for k in args.backends.split(",")]
    result["target_ratio"] = 0.7
    result["meets_target"] = min(ratios) >= 0.7
    print(json.dumps(result))


if __name__ == "__main__":
    main()
