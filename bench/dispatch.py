"""Dispatch cost as shipped: `aftercare worker` at default settings against the plainest
twilio SDK loop, same fake, same run.

Each run, alternating: the worker (one process, default settings: LOG_LEVEL=INFO, batch,
concurrency, its log to a file) sends `--messages` due plan SMS on each back-end, and
between worker runs the raw loop (`bench/raw_twilio_loop.py`: a thread pool calling
`client.messages.create` with the very body the worker sent) sends as many. Both go
through the real SDK to the local fake (its own process), which records the instant of
each accepted call (`/_fake/messages`).

- Throughput: messages over the span from the first accepted call to the last, for both.
- CPU per message: the raw loop's process during its loop; the worker's process from
  the commit that makes its rows due to the last outcome written (claim, checks,
  rendering, fence, call, record: everything per message).
- Start-up: the worker's CPU from exec until it idles (imports, settings, migrations
  check, adapters, first runs of its jobs), and the raw loop's (interpreter, imports,
  client) for scale. Bytecode is compiled, as shipped (the image compiles every module,
  `make install` too): the child processes read and write it under a cache of this run
  (PYTHONPYCACHEPREFIX), warmed by one worker start per back-end that is not counted.
  Without compiled bytecode (PYTHONDONTWRITEBYTECODE over an uncompiled tree) each start
  would compile ~700 modules first, ~1.3 s more.
Each worker run is compared with the mean of the raw runs before and after it (the
machine's speed drifts). Targets: worker CPU/message <= 1.3x the raw loop's, throughput
>= 0.9x, start-up < 0.5 s of CPU. Last line: one JSON object.

    .venv/bin/python bench/dispatch.py [--messages 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from sqlalchemy import func, update
from sqlmodel import Session, select

from bench.dispatch_common import (
    SENDER,
    cpu_seconds,
    database,
    fake_twilio,
    machine,
    peak_rss_mb,
    seed,
    stop_worker,
)
from service.config import REPO_ROOT, load_settings
from service.db.engine import make_engine
from service.db.models import Message
from service.fakes.twilio_server import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN

RAW_LOOP = Path(__file__).resolve().parent / "raw_twilio_loop.py"
TARGETS = {"cpu_ratio": 1.3, "throughput_ratio": 0.9, "startup_cpu_s": 0.5}
TYPICAL_BODY = (
    "Bench Clinic: Day 1: mild headache or tenderness can happen. A cool pack can ease a "
    "bruise; press gently, don't massage. Emergency: call 911. Clinic: +14155550100."
)
# What a worker imports before it can send, third-party only: their import is the floor
# of its start-up CPU (measured in its own process, for scale).
LIBRARIES = ("typer", "sqlalchemy.orm", "sqlmodel", "pydantic_settings", "psycopg", "jinja2",
             "apscheduler.schedulers.background", "twilio.rest", "requests", "phonenumbers",
             "yaml", "prometheus_client")  # fmt: skip
_PARKED = timedelta(days=1)  # rows are seeded this far ahead, then made due at once
_SETTLED = 0.03  # CPU seconds per second under which a starting worker counts as idle
_BYTECODE = Path(tempfile.gettempdir()) / f"aftercare-bench-pyc-{os.getpid()}"
atexit.register(shutil.rmtree, _BYTECODE, ignore_errors=True)


def fake_reset(url: str) -> None:
    """Forget what the fake accepted. Its reset restores every default, status callbacks
    included: turned off again (as the fake was started), else during the worker's runs
    only it would post two callbacks per message (to the web process, which is not
    running) and answer the worker more slowly than the raw loop, which sets none."""
    requests.post(f"{url}/_fake/reset", timeout=10)
    config = {"json": json.dumps({"callbacks": False})}
    requests.post(f"{url}/_fake/config", data=config, timeout=10).raise_for_status()


def call_span(url: str, count: int) -> float:
    """Seconds from the fake's first accepted call to its last (exactly `count` calls)."""
    log = requests.get(f"{url}/_fake/messages", timeout=60).json()
    if len(log) != count:
        raise SystemExit(f"the fake accepted {len(log)} messages, expected {count}")
    instants = sorted(datetime.fromisoformat(m["created"]) for m in log)
    return (instants[-1] - instants[0]).total_seconds()


def raw_run(url: str, count: int, body_file: Path, threads: int = 8) -> dict[str, float]:
    fake_reset(url)
    out = subprocess.run(
        [sys.executable, str(RAW_LOOP), url, str(count), str(body_file), f"--threads={threads}"],
        check=True, capture_output=True, text=True, env=_plain_env(),
    )  # fmt: skip
    figures = json.loads(out.stdout.splitlines()[-1])
    return {
        "msgs_per_s": round((count - 1) / call_span(url, count), 1),
        "cpu_ms_per_msg": round(1000 * figures["loop_cpu_s"] / count, 3),
        "startup_cpu_s": round(figures["startup_cpu_s"], 3),
    }


def raw_sdk(url: str, count: int, threads: int = 8) -> tuple[float, float]:
    """The raw loop's messages/s and CPU ms per message with a typical plan text (for
    bench/callbacks.py's peak send rate)."""
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "body.txt"
        body_file.write_text(TYPICAL_BODY)
        figures = raw_run(url, count, body_file, threads)
    return figures["msgs_per_s"], figures["cpu_ms_per_msg"]


def libraries_cpu() -> float:
    """CPU seconds of a process that only imports `LIBRARIES`."""
    code = f"import os, {', '.join(LIBRARIES)}; t = os.times(); print(t.user + t.system)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=_plain_env())  # fmt: skip
    return float(out.stdout)


def worker_run(kind: str, url: str, count: int, workdir: Path) -> tuple[dict[str, Any], str]:
    """The worker's figures, and the body it sent (for the raw loop)."""
    with database(kind, workdir) as db_url:
        settings = load_settings(database_url=db_url)
        parked = datetime.now(UTC) + _PARKED
        seed(settings, [parked] * count)
        engine = make_engine(settings)
        log_file = (workdir / f"worker-{kind}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "service", "worker"], cwd=REPO_ROOT,
                                env=shipped_env(db_url, url), stderr=log_file)  # fmt: skip
        try:
            startup = _wait_idle(proc)
            fake_reset(url)
            _make_due(engine)
            began = cpu_seconds(proc.pid)
            _wait_all_sent(engine, count, proc)
            cpu = cpu_seconds(proc.pid) - began
            rss = peak_rss_mb(proc.pid)
        finally:
            stop_worker(proc)
            log_file.close()
        with Session(engine) as session:
            body = session.exec(select(Message.body).limit(1)).one()
        engine.dispose()
    assert body is not None
    figures = {
        "msgs_per_s": round((count - 1) / call_span(url, count), 1),
        "cpu_ms_per_msg": round(1000 * cpu / count, 3),
        "startup_cpu_s": round(startup, 3),
        "peak_rss_mb": rss,
        "log_lines": sum(1 for _ in (workdir / f"worker-{kind}.log").open("rb")),
    }
    return figures, body


def shipped_env(db_url: str, twilio_url: str) -> dict[str, str]:
    """What an operator sets to send through Twilio; everything else at its default."""
    return {
        **_plain_env(),
        "DATABASE_URL": db_url,
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_FROM": SENDER,
        "TWILIO_API_BASE_URL": twilio_url,
    }


def _plain_env() -> dict[str, str]:
    """Our environment without any of the service's settings or Python tuning, with
    bytecode written to and read from this run's cache (`_BYTECODE`)."""
    plain = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LOG_", "DISPATCH_", "DATABASE_", "TWILIO_", "SMS_", "PYTHONOPT",
                               "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"))
    }  # fmt: skip
    return {**plain, "PYTHONPYCACHEPREFIX": str(_BYTECODE)}


def warm_up(kinds: list[str], url: str, workdir: Path) -> None:
    """One worker start per back-end and one raw loop, not counted: they compile the
    bytecode every later start reads."""
    body_file = workdir / "warm-up.txt"
    body_file.write_text(TYPICAL_BODY)
    raw_run(url, 10, body_file)
    for kind in kinds:
        worker_run(kind, url, 10, workdir)
    subprocess.run([sys.executable, "-c", f"import {', '.join(LIBRARIES)}"], check=True,
                   env=_plain_env())  # fmt: skip


def _wait_idle(proc: subprocess.Popen[bytes], timeout: float = 120) -> float:
    """CPU seconds the worker used until it settled (a quarter second under `_SETTLED`)."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(proc.pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        if proc.poll() is not None:
            raise SystemExit(f"worker exited with {proc.returncode}")
        now = cpu_seconds(proc.pid)
        if now > 0.1 and now - last < _SETTLED / 4:
            return last
        last = now
    raise SystemExit("worker did not settle")


def _make_due(engine: Any) -> None:
    """Every parked row due a second ago, in one commit (the worker is idle by now)."""
    table: Any = Message.__table__  # type: ignore[attr-defined]
    due = datetime.now(UTC) - timedelta(seconds=1)
    with engine.begin() as conn:
        conn.execute(update(table).values(due_at=due, next_attempt_at=due,
                                          valid_until=due + timedelta(hours=1)))  # fmt: skip


def _wait_all_sent(engine: Any, count: int, proc: Any, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    query = select(func.count()).select_from(Message).where(Message.status == "sent")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited with {proc.returncode}")
        with Session(engine) as session:
            if session.exec(query).one() >= count:
                return
        time.sleep(0.1)
    raise SystemExit(f"worker did not send {count} messages in {timeout}s")


def compare(worker: dict[str, Any], before: dict[str, float], after: dict[str, float]) -> None:
    raw_rate = (before["msgs_per_s"] + after["msgs_per_s"]) / 2
    raw_cpu = (before["cpu_ms_per_msg"] + after["cpu_ms_per_msg"]) / 2
    worker["raw_msgs_per_s"] = round(raw_rate, 1)
    worker["raw_cpu_ms_per_msg"] = round(raw_cpu, 3)
    worker["throughput_ratio"] = round(worker["msgs_per_s"] / raw_rate, 3)
    worker["cpu_ratio"] = round(worker["cpu_ms_per_msg"] / raw_cpu, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    kinds = args.backends.split(",")
    result: dict[str, Any] = {"bench": "dispatch", "messages": args.messages, "machine": machine(),
                              "load_avg": os.getloadavg()[0], "targets": TARGETS}  # fmt: skip
    runs: list[dict[str, Any]] = []
    raws: list[dict[str, float]] = []
    with fake_twilio() as url, tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "body.txt"
        warm_up(kinds, url, Path(tmp))
        for n in range(args.runs):
            for kind in kinds:
                worker, body = worker_run(kind, url, args.messages, Path(tmp))
                body_file.write_text(body)
                if not raws:  # the first raw run follows the first worker run (its body)
                    raws.append(raw_run(url, args.messages, body_file))
                raws.append(raw_run(url, args.messages, body_file))
                compare(worker, raws[-2], raws[-1])
                runs.append({"run": n + 1, "backend": kind, **worker})
                _print(runs[-1])
        floor = [libraries_cpu() for _ in range(3)]
    result["runs"] = runs
    result["raw"] = raws
    result["summary"] = summary(runs, raws, kinds)
    result["summary"]["libraries_import_cpu_s"] = round(statistics.median(floor), 3)
    print(f"start-up floor: importing the libraries alone takes {statistics.median(floor):.2f} "
          "CPU s")  # fmt: skip
    result["meets_targets"] = all(result["summary"][kind]["meets"] for kind in kinds)
    print(json.dumps(result))


def summary(runs: list[dict[str, Any]], raws: list[dict[str, float]], kinds: list[str]) -> dict:
    out: dict[str, Any] = {"raw_startup_cpu_s": statistics.median(r["startup_cpu_s"] for r in raws)}
    for kind in kinds:
        mine = [r for r in runs if r["backend"] == kind]
        cpu = [r["cpu_ratio"] for r in mine]
        rate = [r["throughput_ratio"] for r in mine]
        start = [r["startup_cpu_s"] for r in mine]
        out[kind] = {
            "cpu_ratio": [min(cpu), max(cpu)],
            "throughput_ratio": [min(rate), max(rate)],
            "startup_cpu_s": [min(start), max(start)],
            "meets": max(cpu) <= TARGETS["cpu_ratio"]
            and min(rate) >= TARGETS["throughput_ratio"]
            and max(start) < TARGETS["startup_cpu_s"],
        }
    return out


def _print(run: dict[str, Any]) -> None:
    print(
        f"run {run['run']} {run['backend']:10s} worker {run['msgs_per_s']:7.1f} msg/s "
        f"{run['cpu_ms_per_msg']:.3f} CPU ms/msg | raw {run['raw_msgs_per_s']:7.1f} msg/s "
        f"{run['raw_cpu_ms_per_msg']:.3f} CPU ms/msg | throughput x{run['throughput_ratio']:.2f}"
        f" CPU x{run['cpu_ratio']:.2f} | start-up {run['startup_cpu_s']:.2f} CPU s, "
        f"RSS {run['peak_rss_mb']} MB, {run['log_lines']} log lines",
        flush=True,
    )


if __name__ == "__main__":
    main()
