"""Faults during a burst, at default settings: what is lost, doubled, stuck, and how long
until everything is settled again.

Each scenario sends `--messages` due plan SMS through `aftercare worker` processes and
the real twilio SDK to the local fake Twilio (its own process, 50 ms per call), on a
fresh PostgreSQL database, with every dispatch setting at its default:

- `kill`: 3 workers; every 2.5 s one is killed with SIGKILL and started again (3 times);
- `restart`: 3 workers on a throwaway PostgreSQL cluster this bench starts (initdb,
  pg_ctl), restarted twice (`pg_ctl restart -m fast`) 2.5 s apart mid-burst;
- `sigterm`: 1 worker gets SIGTERM mid-burst (its exit time against
  WORKER_STOP_SECONDS); a second worker then finishes the burst;
- `stop`: 2 workers and one `aftercare serve`; 200 patients whose texts are still
  queued text STOP (signed inbound webhooks, 8 at a time) mid-burst.

Per scenario: lost (neither sent nor still pending), duplicated (the fake accepted
more than one text for a number), stuck (still scheduled or sending at the end),
wrongly failed, settle time (from the end of the fault until no row is scheduled or
sending), and the send time of an urgent page queued as the fault ends: from then, and
from when the fleet was back (the first heartbeat of a worker running after the fault;
a worker takes a few seconds to start). `stop` adds
the STOP webhook's latency and the plan texts that reached a patient after their STOP
was sent. The baseline is the same burst with no fault (`none`), in the same run.
Last line: one JSON object.

    .venv/bin/python bench/faults.py [--messages 3000] [--scenarios none,kill,restart,sigterm,stop]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlmodel import Session

from bench.dispatch_common import (
    SENDER,
    database,
    fake_twilio,
    free_port,
    machine,
    seed,
    worker_env,
)
from bench.lateness import percentile
from service.channels.twilio_webhooks import sign
from service.config import REPO_ROOT, load_settings
from service.db import migrate
from service.db.engine import make_engine
from service.db.models import Message
from service.fakes.twilio_server import TEST_AUTH_TOKEN

PAGE_TO = "+14155559911"
SETTLE_LIMIT = 240.0  # seconds to wait for everything to settle after the fault
LATENCY = 0.05  # seconds per call at the fake
KILL_EVERY = 2.5  # seconds between kills
OPEN_ROWS = "SELECT count(*) FROM messages WHERE status IN ('scheduled', 'sending')"
PLAN_ROWS = "SELECT to_address, status, attempts FROM messages WHERE kind = 'plan'"


class Fleet:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        env = {**self.env, "WORKER_ID": name}
        proc = subprocess.Popen([sys.executable, "-m", "service", "worker"], env=env,
                                cwd=REPO_ROOT, stderr=subprocess.DEVNULL)  # fmt: skip
        self.procs[name] = proc
        return proc

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def fake_get(url: str, what: str) -> object:
    return requests.get(f"{url}/_fake/{what}", timeout=10).json()


def configure(url: str, **changes: object) -> None:
    requests.post(f"{url}/_fake/config", data={"json": json.dumps(changes)}, timeout=10)


def wait_accepted(url: str, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while fake_get(url, "stats")["accepted"] < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"the burst never reached {count} messages")
        time.sleep(0.05)


def queue_page(db_url: str) -> float:
    """An urgent page due now; returns when it was committed (time.time())."""
    engine = make_engine(load_settings(database_url=db_url))
    try:
        with Session(engine) as session:
            clinic_id = session.connection().execute(text("SELECT min(id) FROM clinics")).one()[0]
            now = datetime.now(UTC)
            session.add(Message(dedupe_key=f"page:{uuid.uuid4().hex}", clinic_id=clinic_id,
                                kind="page", channel="sms", priority="urgent", to_address=PAGE_TO,
                                body="Urgent reply from a patient: call back", due_at=now,
                                next_attempt_at=now))  # fmt: skip
            session.commit()
        return time.time()
    finally:
        engine.dispose()


def settle(db_url: str, twilio_url: str, fault_end: float, page_at: float) -> dict:
    """Wait until nothing is scheduled or sending; the figures of the run."""
    engine = make_engine(load_settings(database_url=db_url))
    page_sent = None
    settled = None
    try:
        while time.time() - fault_end < SETTLE_LIMIT:
            if page_sent is None and PAGE_TO in fake_get(twilio_url, "stats")["by_to"]:
                page_sent = time.time()
            with Session(engine) as session:
                open_rows = session.connection().execute(text(OPEN_ROWS)).one()[0]
            if open_rows == 0 and page_sent is not None:
                settled = time.time()
                break
            time.sleep(0.2)
        return counts(engine, twilio_url) | {
            "settle_s": None if settled is None else round(settled - fault_end, 1),
            "page_sent_after_s": None if page_sent is None else round(page_sent - page_at, 2),
        }
    finally:
        engine.dispose()


def counts(engine, twilio_url: str) -> dict:
    by_to = fake_get(twilio_url, "stats")["by_to"]
    with Session(engine) as session:
        rows = session.connection().execute(text(PLAN_ROWS)).all()
    pending = {"scheduled", "sending"}
    done = {"sent", "delivered"}
    return {
        "messages": len(rows),
        "lost": sum(
            1
            for to, st, _ in rows
            if st not in done | pending | {"cancelled"} and not by_to.get(to)
        ),
        "duplicated": sum(1 for to, _, _ in rows if by_to.get(to, 0) > 1),
        "stuck": sum(1 for _, st, _ in rows if st in pending),
        "wrongly_failed": sum(1 for _, st, _ in rows if st == "failed"),
        "cancelled": sum(1 for _, st, _ in rows if st == "cancelled"),
        "max_attempts": max((a for _, _, a in rows), default=0),
    }


def run_burst(kind: str, db_url: str, twilio_url: str, count: int, workers: int,
              fault, env_extra: dict[str, str] | None = None) -> dict:  # fmt: skip
    settings = load_settings(database_url=db_url)
    seed(settings, [datetime.now(UTC) - timedelta(seconds=1)] * count)
    _clinic_sender(db_url)
    env = worker_env(db_url, twilio_url, 8, **(env_extra or {}))
    fleet = Fleet(env)
    try:
        for n in range(workers):
            fleet.start(f"{kind}-w{n}")
        started = time.time()
        wait_accepted(twilio_url, min(500, count // 4))
        extra = fault(fleet, env) or {}
        fault_end = time.time()
        page_at = queue_page(db_url)
        result = settle(db_url, twilio_url, fault_end, page_at)
        result["burst_s"] = round(time.time() - started, 1)
        result |= _after_recovery(db_url, fleet, page_at, result["page_sent_after_s"])
        return result | extra
    finally:
        fleet.stop()


def _after_recovery(db_url: str, fleet: Fleet, page_at: float, sent_after: float | None) -> dict:
    """When the fleet was back (a worker of it running again, by its first heartbeat) and
    how long the page took from then (from its queueing if that was later)."""
    engine = make_engine(load_settings(database_url=db_url))
    with engine.connect() as conn:
        query = text("SELECT min(started_at) FROM worker_heartbeats WHERE worker_id = ANY(:w)")
        back = conn.execute(query, {"w": list(fleet.procs)}).scalar()
    engine.dispose()
    if back is None or sent_after is None:
        return {}
    recovered = max(back.timestamp(), page_at)
    return {"page_sent_after_recovery_s": round(page_at + sent_after - recovered, 2),
            "fleet_back_after_s": round(back.timestamp() - page_at, 2)}  # fmt: skip


def _clinic_sender(db_url: str) -> None:
    engine = make_engine(load_settings(database_url=db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE clinics SET sms_from = :s"), {"s": SENDER})
    engine.dispose()


# --- the faults -------------------------------------------------------------------------


def no_fault(fleet: Fleet, env: dict[str, str]) -> None:
    return None


def kills(fleet: Fleet, env: dict[str, str]) -> dict:
    names = list(fleet.procs)
    for n in range(3):
        name = names[n % len(names)]
        time.sleep(KILL_EVERY)
        fleet.procs[name].send_signal(signal.SIGKILL)
        fleet.procs[name].wait()
        fleet.start(name + "r")
        del fleet.procs[name]
        names[n % len(names)] = name + "r"
    return {"kills": 3}


def sigterm(fleet: Fleet, env: dict[str, str]) -> dict:
    [proc] = fleet.procs.values()
    time.sleep(2)
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    exited = time.monotonic() - began
    fleet.start("after-sigterm")
    return {"sigterm_exit_s": round(exited, 2), "sigterm_code": proc.returncode}


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[tuple[str, object]]:
    """A PostgreSQL cluster of our own (initdb, pg_ctl), so it can be restarted."""
    workdir = Path(tempfile.mkdtemp(prefix="aftercare-faults-pg-"))
    data, sockets = workdir / "data", workdir / "sockets"
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    for folder in (data, sockets):
        folder.mkdir()
    if as_owner:  # initdb refuses to run as root
        for folder in (workdir, data, sockets):
            shutil.chown(folder, "postgres")
    _run([*as_owner, shutil.which("initdb") or "initdb", "-D", str(data), "-A", "trust",
          "-U", "postgres"])  # fmt: skip
    port = free_port()
    options = f"-p {port} -k {sockets} -c max_connections=200"
    control = [*as_owner, shutil.which("pg_ctl") or "pg_ctl", "-D", str(data), "-o", options,
               "-l", str(workdir / "postgres.log"), "-w"]  # fmt: skip
    _run([*control, "start"])
    try:
        yield (f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
               lambda: _run([*control, "-m", "fast", "restart"]))  # fmt: skip
    finally:
        subprocess.run([*control, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr or done.stdout}")


def restarts(restart) -> object:
    def fault(fleet: Fleet, env: dict[str, str]) -> dict:
        downtime = []
        for _ in range(2):
            time.sleep(KILL_EVERY)
            began = time.monotonic()
            restart()
            downtime.append(round(time.monotonic() - began, 2))
        return {"restarts": 2, "restart_s": downtime}

    return fault


# --- STOP mid-burst ----------------------------------------------------------------------


def stops(db_url: str, twilio_url: str, count: int) -> dict:
    port = free_port()
    env = {**worker_env(db_url, twilio_url, 8), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "SCHEDULER_ENABLED": "false", "ENVIRONMENT": "development"}  # fmt: skip
    web = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port)],
                           env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_web(port)
        timings: dict[str, float] = {}

        def fault(fleet: Fleet, env: dict[str, str]) -> dict:
            phones = _unsent_phones(db_url, 200)
            with ThreadPoolExecutor(8) as pool:
                latencies = list(pool.map(lambda p: _text_stop(port, p, timings), phones))
            return {"stop_p50_s": round(percentile(latencies, 50), 3),
                    "stop_p99_s": round(percentile(latencies, 99), 3),
                    "stop_max_s": round(max(latencies), 3)}  # fmt: skip

        result = run_burst("stop", db_url, twilio_url, count, 2, fault)
        late = _after_stop(db_url, twilio_url, timings)
        return result | {"texts_after_stop": len(late),
                         "latest_after_stop_s": round(max(late), 3) if late else None}  # fmt: skip
    finally:
        web.terminate()
        web.wait(30)


def _wait_web(port: int) -> None:
    for _ in range(300):
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit("aftercare serve did not start")


def _unsent_phones(db_url: str, count: int) -> list[str]:
    """The numbers of `count` patients whose plan text has not gone yet (most of them
    claimed already, waiting for a sending thread)."""
    engine = make_engine(load_settings(database_url=db_url))
    with Session(engine) as session:
        query = text("SELECT p.phone FROM messages m JOIN patients p ON p.id = m.patient_id "
                     "WHERE m.status IN ('scheduled', 'sending') AND m.call_started_at IS NULL "
                     "ORDER BY m.id DESC LIMIT :n")  # fmt: skip
        phones = [row[0] for row in session.connection().execute(query, {"n": count}).all()]
    engine.dispose()
    return phones


def _text_stop(port: int, phone: str, timings: dict[str, float]) -> float:
    base = f"http://127.0.0.1:{port}"
    params = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32,
              "From": phone, "To": SENDER, "Body": "STOP", "NumMedia": "0"}  # fmt: skip
    headers = {"X-Twilio-Signature": sign(auth_token=TEST_AUTH_TOKEN,
                                          url=base + "/webhooks/twilio/sms", params=params),
               "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    timings[phone] = time.time()
    started = time.perf_counter()
    response = requests.post(base + "/webhooks/twilio/sms", data=urlencode(params),
                             headers=headers, timeout=30)  # fmt: skip
    response.raise_for_status()
    return time.perf_counter() - started


def _after_stop(db_url: str, twilio_url: str, timings: dict[str, float]) -> list[float]:
    """For each plan text that reached a number after its STOP was sent: how long after.
    (The STOP confirmation, the one text allowed after STOP, is not a plan text.)"""
    created = {
        item["sid"]: datetime.fromisoformat(item["created"]).timestamp()
        for item in fake_get(twilio_url, "messages")
    }
    engine = make_engine(load_settings(database_url=db_url))
    with Session(engine) as session:
        query = "SELECT to_address, provider_id FROM messages WHERE kind = 'plan'"
        rows = session.connection().execute(text(query + " AND provider_id IS NOT NULL")).all()
    engine.dispose()
    late = []
    for to, sid in rows:
        stop_sent = timings.get(to)
        if stop_sent is not None and sid in created and created[sid] > stop_sent:
            late.append(created[sid] - stop_sent)
    return sorted(late)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--scenarios", default="none,kill,restart,sigterm,stop")
    args = parser.parse_args()
    result: dict = {"bench": "faults", "messages": args.messages, "machine": machine()}
    with fake_twilio(quiet=True) as twilio_url, tempfile.TemporaryDirectory() as tmp:
        for scenario in args.scenarios.split(","):
            configure(twilio_url, latency=LATENCY)
            requests.post(f"{twilio_url}/_fake/reset", timeout=10)
            configure(twilio_url, latency=LATENCY)
            figures = _scenario(scenario, twilio_url, args.messages, Path(tmp))
            result[scenario] = figures
            print(f"{scenario:8s} {json.dumps(figures)}", flush=True)
    print(json.dumps(result))


def _scenario(name: str, twilio_url: str, count: int, tmp: Path) -> dict:
    if name == "restart":
        with throwaway_cluster() as (url, restart):
            migrate.upgrade(load_settings(database_url=url))
            return run_burst(name, url, twilio_url, count, 3, restarts(restart))
    with database("postgresql", tmp) as url:
        if name == "stop":
            return stops(url, twilio_url, count)
        fault = {"none": no_fault, "kill": kills, "sigterm": sigterm}[name]
        return run_burst(name, url, twilio_url, count, 1 if name == "sigterm" else 3, fault)


if __name__ == "__main__":
    threading.excepthook = lambda args: None  # quiet teardown of the helper threads
    main()
