"""Scale day: one simulated day of a clinic chain on PostgreSQL, on a scaled clock.

`--clinics` clinics (default 50) in six US time zones, each sending from its own number
paced at a real carrier rate (1, 2 or 3 messages/s), the days before (`--history-days`
of `--per-day` patients per clinic, enrolled through the CSV importer on their own
mornings; the rows those days sent are marked sent), and the simulated day itself:
one in five clinics imports its day's list by CSV (`aftercare import`, 07:30 local),
the others enrol each patient by REST an hour after the procedure, 4 `aftercare
worker` processes and one `aftercare serve` (webhooks and REST, no scheduler) at
shipped settings, the fake Twilio (own process) enforcing each sender's rate (429
above it) with `--fault-rate` provider faults (half of them after accepting: in doubt)
and status callbacks, 30% of them final-first. Patients reply to `--reply-share` of
the texts they get (30% urgent) through the signed inbound webhook.

The clock: CLOCK_START/CLOCK_ANCHOR/CLOCK_RATE (service.clock) run 24 h in
`--day-seconds` real seconds in every process. Sender rates are real (a carrier's): on
the clock a sender paced at r/s real is configured at r / CLOCK_RATE per clock second
and the fake enforces r per real second; claim TTLs, call timeouts and pace-ahead stay
real time. Due times, quiet hours and validity windows follow the clock.

Reported: the day's due plan texts and what became of them (sent within their window,
skipped with the reason, still waiting), sent late (0), sent in quiet hours (0, judged
by the instant the fake accepted each, on the clock, in the patient's zone),
duplicates (0: texts the fake accepted per number beyond our sent rows), 429s from the
fake (< 1% of sends), page latency from the urgent reply's webhook to the fake
accepting the page (real seconds; p99 < 5 s at the peak hour), each sender's achieved
peak rate against its configured one, worker CPU per message (over the whole day,
idle ticks included, with the raw SDK loop's on the same fake for scale) and RSS.

    .venv/bin/python bench/scale_day.py [--clinics 50] [--day-seconds 480] [--per-day 40]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import create_engine, text
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch_common import cpu_seconds, free_port, peak_rss_mb, postgres_database
from bench.scale_day_seed import (
    Arrival,
    Population,
    arrivals,
    close_history,
    make_clinics,
    seed_history,
    to_csv,
)
from service.channels.twilio_webhooks import sign
from service.config import REPO_ROOT, load_settings
from service.db.engine import make_engine
from service.fakes.twilio_server import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from service.scheduling import QuietHours, declared_night, step_window

START = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)  # 01:00 in New York, 20:00 in Honolulu
DAY = timedelta(days=1)
RAW_LOOP = Path(__file__).resolve().parent / "raw_twilio_loop.py"
URGENT = [
    "my face is drooping on one side and I can't smile properly",
    "I can't breathe properly and my throat feels like it's closing",
]
OTHER = ["feeling good thanks", "ok thank you", "all fine here, a little tender today"]


class Day:
    """The clock every process shares: 24 h from START in `seconds` real seconds."""

    def __init__(self, seconds: float, anchor: float) -> None:
        self.rate = DAY.total_seconds() / seconds
        self.anchor = anchor

    def now(self) -> datetime:
        return self.at(time.time())

    def at(self, real: float) -> datetime:
        return START + timedelta(seconds=(real - self.anchor) * self.rate)

    def env(self) -> dict[str, str]:
        return {
            "CLOCK_START": START.isoformat(),
            "CLOCK_ANCHOR": repr(self.anchor),
            "CLOCK_RATE": repr(self.rate),
        }


def wait_port(port: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


class Fleet:
    """The fake Twilio, `aftercare serve` and the workers, with their logs in `logs`."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        out = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )

    def workers(self) -> list[subprocess.Popen[bytes]]:
        return [p for name, p in self.procs.items() if name.startswith("worker")]

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)


def service_env(db_url: str, fake: str, web: int, day: Day) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{web}",
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_FROM": "+15005550006",
        "TWILIO_API_BASE_URL": fake,
        "SCHEDULER_ENABLED": "false",
        **day.env(),
    }


def configure_fake(fake: str, pop: Population, fault_rate: float, seed: int) -> None:
    rates = {c.sender: [c.real_rate, c.burst] for c in pop.clinics}
    config = {
        "rates": rates,
        "error_rate": fault_rate,
        "accept_then_fail": 0.5,
        "callback_disorder": 0.3,
    }
    requests.post(f"{fake}/_fake/config", data={"json": json.dumps(config)}, timeout=10)


class Driver:
    """Plays the day: enrolments (REST, CSV) at their instants and patients' replies."""

    def __init__(
        self,
        args: argparse.Namespace,
        day: Day,
        env: dict[str, str],
        web: int,
        fake: str,
        pop: Population,
        logs: Path,
    ) -> None:
        self.args, self.day, self.env, self.pop, self.logs = args, day, env, pop, logs
        self.web, self.fake = f"http://127.0.0.1:{web}", fake
        self.rng = random.Random(args.seed + 7)
        self.pool = ThreadPoolExecutor(4)
        self.http = requests.Session()
        self.seen: set[str] = set()
        self.replies: list[tuple[float, str, str, str]] = []  # due (real), from, to, text
        self.urgent: dict[str, float] = {}  # inbound MessageSid -> real instant posted
        self.errors: Counter[str] = Counter()
        self.posted = Counter[str]()
        self.pids: list[int] = []  # the workers: their CPU at the day's first send
        self.first_send: tuple[float, float] | None = None  # (real instant, workers' CPU)

    def run(self, queue: list[Arrival]) -> None:
        rest = [a for a in queue if not a.clinic.csv]
        csv_groups = _csv_groups([a for a in queue if a.clinic.csv])
        end, next_poll = START + DAY, 0.0
        while (now := self.day.now()) < end:
            while rest and rest[0].at <= now:
                self.pool.submit(self._rest, rest.pop(0))
            while csv_groups and csv_groups[0][0] <= now:
                self.pool.submit(self._csv, csv_groups.pop(0)[1])
            if time.monotonic() >= next_poll:
                self._notice_sends()
                next_poll = time.monotonic() + 1.0
            self._reply_due()
            time.sleep(0.05)
        self.pool.shutdown(wait=True)

    def _rest(self, arrival: Arrival) -> None:
        row = arrival.row
        body = {
            "patient": {
                "first_name": row["first_name"],
                "phone": row["phone"],
                "external_ref": row["external_ref"],
            },
            "plan": row["plan"],
            "procedure_at": row["procedure_at"],
        }
        answer = self.http.post(
            f"{self.web}/api/v1/enrollments",
            json=body,
            timeout=30,
            headers={"Authorization": f"Bearer {arrival.clinic.api_key}"},
        )
        self.posted["rest"] += 1
        if answer.status_code != 201:
            self.errors[f"rest {answer.status_code}"] += 1

    def _csv(self, group: list[Arrival]) -> None:
        path = self.logs / f"import-{group[0].clinic.slug}.csv"
        path.write_text(to_csv([a.row for a in group]))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "service",
                "import",
                str(path),
                "--clinic",
                group[0].clinic.slug,
                "--json",
            ],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        self.posted["csv_rows"] += len(group)
        if done.returncode != 0:
            self.errors["csv import"] += 1
            (self.logs / f"import-{group[0].clinic.slug}.err").write_text(done.stderr)

    def _notice_sends(self) -> None:
        """Texts the fake accepted since the last look: a share of them get a reply."""
        with contextlib.suppress(requests.RequestException):
            for sent in self.http.get(f"{self.fake}/_fake/messages", timeout=10).json():
                if sent["sid"] in self.seen:
                    continue
                if not self.seen:
                    self.first_send = (time.time(), sum(cpu_seconds(pid) for pid in self.pids))
                self.seen.add(sent["sid"])
                if sent["to"] in self.pop.phones and self.rng.random() < self.args.reply_share:
                    urgent = self.rng.random() < 0.3
                    words = self.rng.choice(URGENT if urgent else OTHER)
                    due = time.time() + self.rng.uniform(0.5, 3.0)
                    self.replies.append((due, sent["to"], sent["sender"], words))

    def _reply_due(self) -> None:
        now = time.time()
        for item in [r for r in self.replies if r[0] <= now]:
            self.replies.remove(item)
            self.pool.submit(self._reply, *item[1:])

    def _reply(self, phone: str, to: str, words: str) -> None:
        sid = "SM" + uuid.uuid4().hex
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": TEST_ACCOUNT_SID,
            "From": phone,
            "To": to,
            "Body": words,
            "NumMedia": "0",
        }
        url = f"{self.web}/webhooks/twilio/sms"
        signature = sign(auth_token=TEST_AUTH_TOKEN, url=url, params=params)
        posted = time.time()
        answer = self.http.post(
            url, data=params, timeout=30, headers={"X-Twilio-Signature": signature}
        )
        self.posted["urgent" if words in URGENT else "reply"] += 1
        if words in URGENT:
            self.urgent[sid] = posted
        if answer.status_code >= 300:
            self.errors[f"reply {answer.status_code}"] += 1


def _csv_groups(queue: list[Arrival]) -> list[tuple[datetime, list[Arrival]]]:
    groups: dict[tuple[int, datetime], list[Arrival]] = defaultdict(list)
    for arrival in queue:
        groups[(arrival.clinic.id, arrival.at)].append(arrival)
    return sorted(((at, rows) for (_, at), rows in groups.items()), key=lambda g: g[0])


def wait_heartbeats(db_url: str, count: int, seconds: float = 120) -> None:
    engine = create_engine(db_url)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM worker_heartbeats")).scalar() >= count:
                    return
            time.sleep(0.5)
        raise RuntimeError("the workers did not start")
    finally:
        engine.dispose()


def wait_drained(db_url: str, seconds: float) -> None:
    """Until no row is `sending` (in flight, or in doubt until reconciled) or `seconds`."""
    engine = create_engine(db_url)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                query = text("SELECT count(*) FROM messages WHERE status = 'sending'")
                if not conn.execute(query).scalar():
                    break
            time.sleep(0.5)
        time.sleep(1.0)  # the last status callbacks
    finally:
        engine.dispose()


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)


class Report:
    """The day's figures from the database and the fake's log of accepted calls."""

    def __init__(self, db_url: str, day: Day, fake_log: list[dict[str, Any]]) -> None:
        self.engine = make_engine(load_settings(database_url=db_url))
        self.day = day
        self.log = fake_log
        self.at = {m["sid"]: float(m["at"]) for m in fake_log}

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with Session(self.engine) as session:
            return list(session.execute(text(sql), params))

    def due(self) -> dict[str, Any]:
        rows = self.rows(
            "SELECT status, status_reason, next_attempt_at FROM messages WHERE channel = 'sms' "
            "AND kind IN ('plan', 'catch_up') AND due_at >= :s AND due_at < :e",
            s=START,
            e=START + DAY,
        )
        statuses = Counter(
            "scheduled past the day's end"
            if r.status == "scheduled" and r.next_attempt_at >= START + DAY
            else r.status
            for r in rows
        )
        sent = sum(statuses[s] for s in ("sent", "delivered", "undelivered"))
        reasons = Counter((r.status_reason or "")[:70] for r in rows if r.status == "skipped")
        return {
            "due": len(rows),
            "sent": sent,
            "statuses": dict(statuses),
            "skipped_reasons": dict(reasons.most_common(5)),
        }

    def claims(self) -> int:
        """Rows claimed during the day (a row released and claimed again counts twice)."""
        return int(
            self.rows(
                "SELECT count(*) AS n FROM message_events WHERE to_status = 'sending' AND at >= :s",
                s=START,
            )[0].n
        )

    def sent_rows(self) -> list[Any]:
        return self.rows(
            "SELECT m.id, m.kind, m.priority, m.provider_id, m.valid_until, m.call_started_at, "
            "COALESCE(m.to_address, p.phone) AS phone, COALESCE(p.timezone, c.timezone) AS tz, "
            "m.context, c.quiet_start, c.quiet_end, c.night_start, c.night_end FROM messages m "
            "JOIN clinics c ON c.id = m.clinic_id LEFT JOIN patients p ON p.id = m.patient_id "
            "WHERE m.channel = 'sms' AND m.provider_id IS NOT NULL AND m.call_started_at >= :s",
            s=START,
        )

    def timing(self, sent: list[Any]) -> dict[str, Any]:
        late_start = late_accept = quiet = 0
        examples: list[str] = []
        for row in sent:
            accepted = self.day.at(self.at[row.provider_id]) if row.provider_id in self.at else None
            if row.valid_until is not None:
                late_start += row.call_started_at > row.valid_until
                late_accept += accepted is not None and accepted > row.valid_until
            if accepted is not None and in_quiet_hours(row, accepted):
                quiet += 1
                if len(examples) < 3:
                    started = row.call_started_at.astimezone(ZoneInfo(row.tz)).time()
                    local = accepted.astimezone(ZoneInfo(row.tz)).time()
                    examples.append(
                        f"{row.id} {row.kind}/{row.priority} call {started} accepted {local}"
                    )
        return {
            "late_call_start": late_start,
            "late_by_fake_accept": late_accept,
            "in_quiet_hours": quiet,
            "in_quiet_hours_examples": examples,
        }

    def duplicates(self, sent: list[Any]) -> dict[str, int]:
        ours = Counter(row.phone for row in sent)
        theirs = Counter(m["to"] for m in self.log)
        known = {row.provider_id for row in sent}
        return {
            "extra_texts_per_number": sum(max(0, n - ours[to]) for to, n in theirs.items()),
            "fake_texts_not_ours": sum(1 for m in self.log if m["sid"] not in known),
        }

    def pages(self, urgent: dict[str, float]) -> dict[str, Any]:
        rows = self.rows(
            "SELECT i.provider_id AS inbound, m.provider_id AS page FROM inbound_messages i "
            "JOIN alerts a ON a.inbound_id = i.id AND a.kind = 'triage_urgent' "
            "JOIN messages m ON m.dedupe_key LIKE 'page:' || a.id || ':0:%' "
            "AND m.channel = 'sms' WHERE i.provider_id = ANY(:sids)",
            sids=list(urgent),
        )
        first: dict[str, float] = {}
        for row in rows:
            if row.page in self.at:
                first[row.inbound] = min(first.get(row.inbound, 1e18), self.at[row.page])
        latency = {sid: first[sid] - urgent[sid] for sid in first}
        joined = self.joined_open_alert([sid for sid in urgent if sid not in latency])
        peak = self.peak_hours()
        at_peak = [v for sid, v in latency.items() if self.day.at(urgent[sid]).hour in peak]
        return {
            "urgent_replies": len(urgent),
            "paged": len(latency),
            # a second urgent reply while the patient's paged alert is still unacknowledged
            # joins it (one alert per emergency; it keeps escalating): no page of its own
            "joined_open_paged_alert": len(joined),
            "neither": len(urgent) - len(latency) - len(joined),
            "p50_s": percentile(list(latency.values()), 0.5),
            "p99_s": percentile(list(latency.values()), 0.99),
            "max_s": percentile(list(latency.values()), 1.0),
            "peak_hours_utc": sorted(peak),
            "at_peak": len(at_peak),
            "p99_at_peak_s": percentile(at_peak, 0.99),
            "slowest": [
                self.page_story(sid, latency.get(sid), urgent[sid])
                for sid in self.slowest(urgent, latency, joined)
            ],
        }

    def joined_open_alert(self, sids: list[str]) -> set[str]:
        """Replies that joined an alert open when they came, whose page was sent."""
        rows = self.rows(
            "SELECT i.provider_id AS inbound FROM inbound_messages i "
            "JOIN audit_log l ON l.action = 'alert.followup' "
            "AND (l.detail::jsonb ->> 'inbound_id')::int = i.id "
            "JOIN alerts a ON l.reason = 'another urgent reply for alert ' || a.id "
            "JOIN messages m ON m.dedupe_key LIKE 'page:' || a.id || ':0:%' "
            "AND m.channel = 'sms' AND m.status IN ('sent', 'delivered') "
            "WHERE i.provider_id = ANY(:sids)",
            sids=sids,
        )
        return {row.inbound for row in rows}

    @staticmethod
    def slowest(urgent: dict[str, float], latency: dict[str, float], joined: set[str]) -> list[str]:
        """The urgent replies neither paged nor joined to a paged alert, then the slowest
        paged: three at most."""
        unpaged = [sid for sid in urgent if sid not in latency and sid not in joined]
        return (unpaged + sorted(latency, key=lambda sid: -latency[sid]))[:3]

    def page_story(self, sid: str, latency: float | None, posted: float) -> dict[str, Any]:
        """What happened to one urgent reply's page: its triage, alert and page rows."""
        inbound = self.rows(
            "SELECT id, intent FROM inbound_messages WHERE provider_id = :sid", sid=sid
        )
        story: dict[str, Any] = {
            "latency_s": latency,
            "posted_at": self.day.at(posted).isoformat(),
            "intent": inbound[0].intent if inbound else None,
        }
        if not inbound:
            return story
        pages = self.rows(
            "SELECT m.id, m.status, m.attempts, m.claim_count FROM alerts a JOIN messages m "
            "ON m.dedupe_key LIKE 'page:' || a.id || ':0:%' AND m.channel = 'sms' "
            "WHERE a.inbound_id = :id",
            id=inbound[0].id,
        )
        story["pages"] = [
            {
                "status": p.status,
                "attempts": p.attempts,
                "claims": p.claim_count,
                "events": [
                    f"{self.day_real(e.at)}: {e.to_status} {(e.reason or '')[:60]}"
                    for e in self.rows(
                        "SELECT at, to_status, reason FROM message_events "
                        "WHERE message_id = :id ORDER BY id",
                        id=p.id,
                    )
                ],
            }
            for p in pages
        ]
        return story

    def day_real(self, at: datetime) -> str:
        """A clock instant as real seconds into the run (the day starts at 0)."""
        return f"{(at - START).total_seconds() / self.day.rate:.1f}s"

    def peak_hours(self) -> set[int]:
        hours = Counter(self.day.at(float(m["at"])).hour for m in self.log)
        return {hour for hour, _ in hours.most_common(3)}

    def senders(self, pop: Population) -> dict[str, Any]:
        by_sender: dict[str, list[float]] = defaultdict(list)
        for m in self.log:
            by_sender[m["sender"]].append(float(m["at"]))
        ratios, over = [], 0
        for clinic in pop.clinics:
            times = sorted(by_sender.get(clinic.sender, []))
            if len(times) > clinic.burst:
                ratios.append(most_within(times, 10.0) / 10.0 / clinic.real_rate)
            over += most_within(times, 1.0) > clinic.burst + clinic.real_rate * 1.1
        sends = [len(by_sender.get(c.sender, [])) for c in pop.clinics]
        return {
            "peak_10s_rate_vs_configured": {
                "min": round(min(ratios), 2) if ratios else None,
                "median": round(statistics.median(ratios), 2) if ratios else None,
                "max": round(max(ratios), 2) if ratios else None,
            },
            "senders_over_burst_plus_rate_in_1s": over,
            "sends_per_sender": {
                "min": min(sends),
                "median": statistics.median(sends),
                "max": max(sends),
            },
        }


def in_quiet_hours(row: Any, accepted: datetime) -> bool:
    """Whether a text to a patient reached the provider inside its window (quiet hours
    for routine texts, the night or the step's own declared night for safety ones: the
    product's rule, judged at the instant the fake accepted it). Pages to staff and
    answers to a patient's reply are not held by quiet hours."""
    if row.kind not in ("plan", "catch_up", "fallback"):
        return False
    window = step_window(
        row.priority,
        declared_night(row.context),
        quiet=QuietHours(row.quiet_start, row.quiet_end),
        night=QuietHours(row.night_start, row.night_end),
    )
    local = accepted.astimezone(ZoneInfo(row.tz)).time()
    return window is not None and window.contains(local)


def most_within(instants: list[float], seconds: float) -> int:
    most, first = 0, 0
    for last, at in enumerate(instants):
        while instants[first] <= at - seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def idle_cpu_per_s(first: tuple[float, float] | None, began: float, cpu0: float) -> float:
    """The workers' CPU per real second before the day's first send (ticks, heartbeats,
    jobs on an empty queue): what they spend whatever the traffic."""
    if first is None or first[0] - began < 5:
        return 0.0
    return (first[1] - cpu0) / (first[0] - began)


def raw_loop_cpu_ms(fake: str, count: int = 2000) -> float:
    """CPU ms per message of the plainest twilio SDK loop against the same fake."""
    requests.post(f"{fake}/_fake/reset", timeout=10)
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.txt"
        body.write_text(
            "Scale Clinic 00: Stay upright for 4 hours and don't rub the area "
            "today. Call 911 now for trouble breathing. Reply STOP to opt out."
        )
        out = subprocess.run(
            [sys.executable, str(RAW_LOOP), fake, str(count), str(body)],
            check=True,
            capture_output=True,
            text=True,
        )
    return 1000 * json.loads(out.stdout.splitlines()[-1])["loop_cpu_s"] / count


def seed(db_url: str, args: argparse.Namespace, rate: float) -> tuple[Population, dict]:
    engine = make_engine(load_settings(database_url=db_url))
    began = time.monotonic()
    with Session(engine) as session:
        rates = [float(r) for r in args.rates.split(",")]
        pop = Population(make_clinics(session, args.clinics, clock_rate=rate, rates=rates))
        history = seed_history(
            session, pop, start=START, days=args.history_days, per_day=args.per_day, seed=args.seed
        )
        closed = close_history(session, START)
        rows = session.execute(text("SELECT count(*) FROM messages")).scalar()
    engine.dispose()
    return pop, {
        "history_enrolments": history,
        "history_rows_marked_sent": closed,
        "message_rows_before_day": rows,
        "seed_seconds": round(time.monotonic() - began, 1),
    }


def start_fleet(fleet: Fleet, env: dict[str, str], fake_port: int, web: int, workers: int) -> None:
    python = sys.executable
    fleet.start("fake", [python, "-m", "service.fakes.twilio_server", "--port", str(fake_port)])
    fleet.start("web", [python, "-m", "service", "serve", "--port", str(web)], env)
    for n in range(workers):
        fleet.start(f"worker{n}", [python, "-m", "service", "worker"], env)


def run_day(args: argparse.Namespace, db_url: str, logs: Path) -> dict[str, Any]:
    day = Day(args.day_seconds, anchor=0.0)
    pop, seeded = seed(db_url, args, day.rate)
    queue = arrivals(pop, start=START, per_day=args.per_day, seed=args.seed)
    print(f"seeded: {seeded}; {len(queue)} enrolments arrive during the day", flush=True)
    fake_port, web = free_port(), free_port()
    fake = f"http://127.0.0.1:{fake_port}"
    day.anchor = time.time() + args.warmup  # the day starts once the fleet is up
    env = service_env(db_url, fake, web, day)
    fleet = Fleet(logs)
    try:
        start_fleet(fleet, env, fake_port, web, args.workers)
        wait_port(web)
        configure_fake(fake, pop, args.fault_rate, args.seed)
        wait_heartbeats(db_url, args.workers)
        cpu0 = {p.pid: cpu_seconds(p.pid) for p in fleet.workers()}
        began = time.time()
        print(
            f"fleet up; start-up CPU per worker {statistics.mean(cpu0.values()):.2f} s; "
            f"the day starts in {day.anchor - time.time():.1f} s",
            flush=True,
        )
        driver = Driver(args, day, env, web, fake, pop, logs)
        driver.pids = list(cpu0)
        driver.run(queue)
        wait_drained(db_url, 40.0)  # calls in flight or in doubt at the day's end settle
        cpu = sum(cpu_seconds(p.pid) - cpu0[p.pid] for p in fleet.workers())
        idle = idle_cpu_per_s(driver.first_send, began, sum(cpu0.values()))
        cpu_busy = cpu - idle * (time.time() - began)
        rss = max(peak_rss_mb(p.pid) for p in fleet.workers())
        stats = requests.get(f"{fake}/_fake/stats", timeout=10).json()
        fake_log = requests.get(f"{fake}/_fake/messages", timeout=30).json()
        raw_ms = raw_loop_cpu_ms(fake)
    finally:
        fleet.stop()
    return figures(
        db_url, day, pop, driver, fake_log, stats, seeded, (cpu, cpu_busy, idle), rss, raw_ms
    )


def figures(
    db_url: str,
    day: Day,
    pop: Population,
    driver: Driver,
    fake_log: list[dict],
    stats: dict,
    seeded: dict,
    cpu_figures: tuple[float, float, float],
    rss: float,
    raw_ms: float,
) -> dict[str, Any]:
    report = Report(db_url, day, fake_log)
    sent = report.sent_rows()
    accepted = len(fake_log)
    cpu, cpu_busy, idle = cpu_figures
    worker_ms = 1000 * cpu / max(accepted, 1)
    busy_ms = 1000 * cpu_busy / max(accepted, 1)
    rows = report.rows("SELECT count(*) AS n FROM messages")[0].n
    return {
        "scale": {
            "clinics": len(pop.clinics),
            "zones": 6,
            "workers": driver.args.workers,
            "day_seconds": driver.args.day_seconds,
            "clock_rate": round(day.rate, 1),
            "enrolments_during_day": dict(driver.posted),
            **seeded,
            "message_rows_after_day": rows,
        },
        "due_plan_texts": report.due(),
        **report.timing(sent),
        **report.duplicates(sent),
        "sends_accepted": accepted,
        "claims_per_send": round(report.claims() / max(accepted, 1), 2),
        "fake_429s": stats["throttled"],
        "fake_429_share": round(stats["throttled"] / max(accepted, 1), 4),
        "fake_requests": stats["requests"],
        "pages": report.pages(driver.urgent),
        "senders": report.senders(pop),
        "worker_cpu_ms_per_msg": round(worker_ms, 3),
        "worker_idle_cpu_s_per_s": round(idle, 4),
        "worker_cpu_ms_per_msg_less_idle": round(busy_ms, 3),
        "raw_sdk_cpu_ms_per_msg": round(raw_ms, 3),
        "worker_less_idle_vs_raw_cpu": round(busy_ms / raw_ms, 2),
        "worker_vs_raw_cpu": round(worker_ms / raw_ms, 2),
        "worker_peak_rss_mb": rss,
        "driver_errors": dict(driver.errors),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinics", type=int, default=50)
    parser.add_argument("--day-seconds", type=float, default=480.0)
    parser.add_argument("--history-days", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=40, help="patients per clinic per day")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--rates", default="1,1,2,3,3", help="real msg/s the clinics' numbers take in turn"
    )
    parser.add_argument("--reply-share", type=float, default=0.02)
    parser.add_argument("--fault-rate", type=float, default=0.01)
    parser.add_argument("--warmup", type=float, default=40.0, help="real seconds before 06:00Z")
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    with (
        tempfile.TemporaryDirectory(prefix="scale-day-") as tmp,
        postgres_database("aftercare_scale_day") as db_url,
    ):
        result = run_day(args, db_url, Path(tmp))
        for name in ("web", "worker0"):
            tail = (Path(tmp) / f"{name}.log").read_text(errors="replace").splitlines()[-3:]
            print(f"{name} log tail: {tail}")
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
