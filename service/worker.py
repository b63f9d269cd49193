"""The scheduler every process runs: a few periodic jobs, no per-message jobs.

APScheduler 3 keeps time; SQL claims the work. Each job is a function taking the
`JobContext`; `JOBS` is the explicit list (other areas add one line each). Jobs marked
`singleton` run in one process at a time across the fleet: they take a PostgreSQL
session advisory lock first and skip the round when another worker holds it (SQLite
serves one process, so there the lock is a no-op).

`start_in_process(settings, engine)` runs the scheduler inside `aftercare serve`;
`run_worker(settings)` is `aftercare worker`: blocking, and on SIGTERM/SIGINT it stops
claiming, releases at once the rows it claimed but had not started, lets the calls in
flight finish and exits within WORKER_STOP_SECONDS (default 20 s, under compose's 30 s
stop_grace_period).
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text
from sqlalchemy.engine import Engine

from service.clock import Clock
from service.config import Settings
from service.db.engine import make_engine
from service.db.types import utcnow
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.dispatch.options import DispatchOptions
from service.logs import kv

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    target: str  # "module:function", called with the JobContext
    seconds: Callable[[DispatchOptions, Settings], float]
    singleton: bool = False


# One line per periodic job. A job function takes the JobContext and returns nothing.
JOBS: list[Job] = [
    Job("dispatch", "service.worker_jobs:dispatch_tick", lambda o, s: s.dispatch_interval_seconds),
    Job(
        "reconcile",
        "service.worker_jobs:reconcile",
        lambda o, s: o.reconcile_interval_seconds,
        singleton=True,
    ),
    Job("expire", "service.worker_jobs:expire", lambda o, s: 1.0, singleton=True),
    Job("heartbeat", "service.worker_jobs:heartbeat", lambda o, s: o.heartbeat_seconds),
    Job("receipts", "service.worker_jobs:receipts", lambda o, s: s.receipts_interval_seconds),
    Job("escalate", "service.alerts.jobs:escalate", lambda o, s: 30.0, singleton=True),
    # Response times are hours: a late reply is reported a minute late at most.
    Job("replies_overdue", "service.inbox.jobs:overdue", lambda o, s: 60.0, singleton=True),
    Job(
        "retention",
        "service.worker_jobs:retention",
        lambda o, s: o.retention_interval_seconds,
        singleton=True,
    ),
]


class _SkippedRunFilter(logging.Filter):
    """A tick still running when the next is due is normal (it may sleep until the next
    due row); APScheduler's warning about the skipped run is noise, not a problem."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in record.getMessage()


@dataclass
class JobContext:
    settings: Settings
    engine: Engine
    options: DispatchOptions
    dispatch: DispatchContext
    dispatcher: Dispatcher
    worker_id: str
    hostname: str
    pid: int
    anchor: float = 0.0  # time.time() of the jobs' first run; interval runs follow it


class WorkerRunner:
    """A started scheduler plus its dispatcher; `.stop()` shuts both down gracefully."""

    def __init__(self, ctx: JobContext, scheduler: BackgroundScheduler) -> None:
        self.ctx = ctx
        self.scheduler = scheduler
        self._stopped = threading.Event()

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming, give back what was not started, let the calls in flight end:
        within `timeout` seconds (default WORKER_STOP_SECONDS). Jobs still running (a
        reconciliation listing) stop at their next check; none is waited for."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.ctx.dispatcher.stopping.set()  # stop claiming before the tick finishes
        self.scheduler.shutdown(wait=False)
        self.ctx.dispatcher.stop(timeout)
        log.info(kv("worker.stopped", worker_id=self.ctx.worker_id))


def make_context(
    settings: Settings, engine: Engine, *, options: DispatchOptions | None = None
) -> JobContext:
    options = options or DispatchOptions.from_settings(settings)
    hostname, pid = socket.gethostname(), os.getpid()
    worker_id = settings.worker_id or f"{hostname}:{pid}:{uuid.uuid4().hex[:6]}"
    clock = Clock.from_settings(settings)
    dispatch = DispatchContext(settings=settings, engine=engine, worker_id=worker_id,
                               options=options, clock=clock.now, clock_rate=clock.rate)  # fmt: skip
    return JobContext(
        settings, engine, options, dispatch, Dispatcher(dispatch), worker_id, hostname, pid
    )


def start_in_process(
    settings: Settings, engine: Engine, *, options: DispatchOptions | None = None
) -> WorkerRunner:
    """Start the scheduler on background threads of this process."""
    ctx = make_context(settings, engine, options=options)
    ctx.dispatch.warm_up()
    _quiet_skipped_runs()
    first_run = utcnow()
    ctx.anchor = first_run.timestamp()
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"misfire_grace_time": None})
    for job in JOBS:
        scheduler.add_job(
            _runner(job, ctx),
            "interval",
            seconds=job.seconds(ctx.options, settings),
            id=job.name,
            name=job.name,
            max_instances=1,
            coalesce=True,
            next_run_time=first_run,
        )
    scheduler.start()
    log.info(kv("worker.started", worker_id=ctx.worker_id, jobs=len(JOBS)))
    return WorkerRunner(ctx, scheduler)


def _quiet_skipped_runs() -> None:
    logger = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _SkippedRunFilter) for f in logger.filters):
        logger.addFilter(_SkippedRunFilter())


def _runner(job: Job, ctx: JobContext) -> Callable[[], None]:
    module_name, _, func_name = job.target.partition(":")
    func = getattr(importlib.import_module(module_name), func_name)

    def run() -> None:
        try:
            with fleet_lock(ctx.engine, job.name, enabled=job.singleton) as acquired:
                if acquired:
                    func(ctx)
        except Exception:
            log.exception(kv("worker.job_failed", job=job.name, worker_id=ctx.worker_id))

    return run


@contextmanager
def fleet_lock(engine: Engine, name: str, *, enabled: bool = True) -> Iterator[bool]:
    """`pg_try_advisory_lock` on a dedicated connection for the job's duration."""
    if not enabled or engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(f"aftercare:{name}".encode())
    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()


def run_worker(settings: Settings, *, options: DispatchOptions | None = None) -> None:
    """`aftercare worker`: run until SIGTERM/SIGINT, then shut down gracefully."""
    pool = max(settings.database_pool_size, settings.dispatch_concurrency + 4)
    settings = settings.model_copy(update={"database_pool_size": pool})
    engine = make_engine(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    runner = start_in_process(settings, engine, options=options)
    try:
        while not stop.wait(1.0):  # wakes for signals between waits
            pass
    finally:
        deadline = time.monotonic() + settings.worker_stop_seconds
        runner.stop()
        engine.dispose()
        _exit_by(deadline)


def _exit_by(deadline: float) -> None:
    """Return once the other threads (a job still running) are done, or leave the
    process at `deadline`: the stop bound is a promise to the orchestrator, which kills
    the process at the end of its own grace period anyway. Everything is committed."""
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.warning(kv("worker.exit_with_jobs_running", job_thread=thread.name))
            logging.shutdown()
            os._exit(0)
