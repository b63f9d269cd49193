"""Status callbacks at burst rate: what one web process sustains, against the send rate.

A fresh PostgreSQL database holds `--messages` sent SMS. One `aftercare serve` process
(uvicorn, one process, no scheduler) takes Twilio's two callbacks per message ("sent",
then "delivered"), signed as Twilio signs them, from `--senders` concurrent connections
(in two client processes), each request with Twilio's 15 s timeout. Figures: callbacks
acknowledged per second, latency p50/p99/max at the sender, timeouts and errors, and how
long after the last acknowledgement every row was `delivered` (callbacks are applied by
the workers' `receipts` job when the code has one: one `aftercare worker` runs then),
and the web process's CPU time per callback.

Baseline in the same run: the peak send rate, the bare twilio SDK loop against the
local fake (8 threads, as in bench/dispatch.py); each message sent brings two callbacks,
so keeping up needs callbacks/s >= 2 x that rate. Last line: one JSON object.

    .venv/bin/python bench/callbacks.py [--messages 3000] [--senders 32]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, text
from sqlmodel import Session, select

from bench.dispatch import raw_sdk
from bench.dispatch_common import cpu_seconds, database, fake_twilio, free_port, machine
from bench.lateness import percentile
from service.channels.twilio_webhooks import sign
from service.config import REPO_ROOT, load_settings
from service.db.engine import make_engine
from service.db.models import Clinic, Message
from service.fakes.twilio_server import TEST_AUTH_TOKEN

TIMEOUT = 15.0  # Twilio gives up on a status callback after 15 s


def seed_sent(url: str, count: int) -> None:
    engine = make_engine(load_settings(database_url=url))
    now = datetime.now(UTC) - timedelta(minutes=1)
    with Session(engine) as session:
        clinic = Clinic(name="Bench", slug=f"bench-{uuid.uuid4().hex[:6]}",
                        contact_phone="+14155550100", timezone="UTC")  # fmt: skip
        session.add(clinic)
        session.flush()
        shared = {"clinic_id": clinic.id, "kind": "auto_reply", "channel": "sms",
                  "priority": "routine", "language": "en", "due_at": now, "next_attempt_at": now,
                  "status": "sent", "attempts": 1, "claim_count": 1, "occurrence": 0,
                  "provider": "twilio", "body": "Bench", "sent_at": now, "created_at": now,
                  "updated_at": now}  # fmt: skip
        rows = [
            {**shared, "dedupe_key": f"cb:{i}", "to_address": f"+1415{i:07d}", "provider_id": p}
            for i, p in ((i, f"SM{i:032d}") for i in range(count))
        ]
        session.connection().execute(insert(Message.__table__), rows)  # type: ignore[attr-defined]
        session.commit()
    engine.dispose()


def serve(url: str, port: int, *, worker: bool) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "development",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "SCHEDULER_ENABLED": "false",
    }
    command = [sys.executable, "-m", "service", "serve", "--port", str(port)]
    procs = [subprocess.Popen(command, env=env, cwd=REPO_ROOT)]
    if worker:
        procs.append(subprocess.Popen([sys.executable, "-m", "service", "worker"], env=env,
                                      cwd=REPO_ROOT))  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return procs
        except OSError:
            time.sleep(0.2)
    raise SystemExit("aftercare serve did not start")


def post_all(port: int, items: list[tuple[int, str]], threads: int) -> list[tuple[float, int]]:
    """Post (message number, status) callbacks on `threads` keep-alive connections;
    (latency, HTTP status or 0 for a timeout or a connection error) per callback."""
    results: list[tuple[float, int]] = []
    lock = threading.Lock()
    pending = iter(items)
    base = f"http://127.0.0.1:{port}"

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        while True:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            number, status = item
            path = f"/webhooks/twilio/status?mid={number + 1}"
            params = {"MessageSid": f"SM{number:032d}", "SmsSid": f"SM{number:032d}",
                      "MessageStatus": status, "SmsStatus": status, "To": f"+1415{number:07d}",
                      "From": "+15005550006", "ApiVersion": "2010-04-01"}  # fmt: skip
            headers = {"X-Twilio-Signature": sign(auth_token=TEST_AUTH_TOKEN, url=base + path,
                                                  params=params),
                       "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=urlencode(params), headers=headers)
                response = conn.getresponse()
                response.read()
                code = response.status
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
                code = 0
            with lock:
                results.append((time.perf_counter() - started, code))

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for each in workers:
        each.start()
    for each in workers:
        each.join()
    return results


def burst(port: int, count: int, senders: int) -> tuple[list[tuple[float, int]], float]:
    # Each message's "sent" comes before its "delivered", as Twilio sends them; the
    # messages of a burst interleave across the connections.
    items = [(i, "sent") for i in range(count)] + [(i, "delivered") for i in range(count)]
    halves = [items[0::2], items[1::2]]
    started = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        parts = list(pool.map(post_all, [port, port], halves, [senders // 2] * 2))
    return [r for part in parts for r in part], time.perf_counter() - started


def wait_delivered(url: str, count: int, timeout: float = 300) -> float | None:
    engine = make_engine(load_settings(database_url=url))
    started = time.perf_counter()
    query = select(func.count()).select_from(Message).where(Message.status == "delivered")
    try:
        while time.perf_counter() - started < timeout:
            with Session(engine) as session:
                if session.exec(query).one() >= count:
                    return time.perf_counter() - started
            time.sleep(0.2)
        return None
    finally:
        engine.dispose()


def has_receipts_job() -> bool:
    from service.worker import JOBS

    return any(job.name == "receipts" for job in JOBS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--senders", type=int, default=32)
    args = parser.parse_args()
    result: dict = {"bench": "callbacks", "messages": args.messages, "senders": args.senders,
                    "machine": machine()}  # fmt: skip
    with fake_twilio() as twilio_url:
        send_rate, _ = raw_sdk(twilio_url, args.messages, 8)
    print(f"peak send rate (raw SDK loop): {send_rate:.1f} msg/s, so {2 * send_rate:.1f} "
          "callbacks/s")  # fmt: skip
    worker = has_receipts_job()
    with tempfile.TemporaryDirectory() as tmp, database("postgresql", Path(tmp)) as url:
        seed_sent(url, args.messages)
        port = free_port()
        procs = serve(url, port, worker=worker)
        try:
            cpu = cpu_seconds(procs[0].pid)
            results, elapsed = burst(port, args.messages, args.senders)
            cpu = cpu_seconds(procs[0].pid) - cpu
            applied = wait_delivered(url, args.messages)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(30)
        with Session(make_engine(load_settings(database_url=url))) as session:
            delivered = session.exec(text("SELECT count(*) FROM messages "
                                          "WHERE status = 'delivered'")).one()[0]  # fmt: skip
    latencies = [latency for latency, code in results if code]
    ok = sum(1 for _, code in results if 200 <= code < 300)
    rate = len(results) / elapsed
    result.update({
        "callbacks": len(results), "acknowledged": ok, "timeouts_or_errors": len(results) - ok,
        "callbacks_per_s": round(rate, 1), "p50_s": round(percentile(latencies, 50), 4),
        "p99_s": round(percentile(latencies, 99), 4), "max_s": round(max(latencies), 4),
        "web_cpu_ms_per_callback": round(1000 * cpu / len(results), 3),
        "applied_by_worker": worker,
        "all_delivered_after_s": None if applied is None else round(applied, 2),
        "delivered_rows": delivered, "peak_send_msgs_per_s": round(send_rate, 1),
        "ratio_to_needed": round(rate / (2 * send_rate), 3),
    })  # fmt: skip
    print(f"callbacks: {rate:.1f}/s acknowledged {ok}/{len(results)} "
          f"({result['web_cpu_ms_per_callback']} CPU ms each in the web process), latency p50 "
          f"{result['p50_s']} s p99 {result['p99_s']} s max {result['max_s']} s; "
          f"{result['ratio_to_needed']:.0%} of the 2 x send rate; all delivered "
          f"{result['all_delivered_after_s']} s after the burst ({delivered} rows)")  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
