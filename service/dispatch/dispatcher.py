"""The per-process dispatch loop: claim, queue, call on a fixed set of threads, record.

The twilio SDK and smtplib block, so calls run on `dispatch_concurrency` sending
threads that take jobs from one queue, urgent jobs (pages, safety-net replies) first.
Each job passes its fence (`fence`: one committed statement) right before its call;
what the call came to goes to the `Recorder`, which writes outcomes in bulk as they
come. No lock is held across a call.

A claim is sized to what the threads can start while it is fresh: the queue holds at
most what they start in half the claim TTL at the measured call time (and at most
`_BATCHES` claims of `_PER_THREAD` rows per thread), so a slow provider shrinks claims
instead of letting them expire unsent. A job that waited too long anyway is not called
and its row goes back to the queue where it was, without an attempt counted.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from typing import Any

from sqlalchemy import Connection

from service import metrics
from service.db.engine import session_scope
from service.dispatch.claim import next_due_at
from service.dispatch.context import DispatchContext
from service.dispatch.intake import Job, claim_jobs
from service.dispatch.recorder import Recorder
from service.dispatch.send import NO_DATABASE, SHUTDOWN, Outcome, run_job
from service.logs import kv

log = logging.getLogger(__name__)
_MIN_WAIT = 0.02
_HORIZON_SHARE = 0.8
# Claims queued at once, at most: while the threads call the rows of some, the next
# claim's transaction runs, so the calls never run dry.
_BATCHES = 4
# Rows per sending thread in one claim. A claim costs a few statements whatever its size
# (claim, related rows, content); 50 rows per thread (400 at the default concurrency of
# 8) kept throughput near the raw SDK loop's (BENCHMARKS.md, Dispatch).
_PER_THREAD = 50
# Queued jobs must all start within this share of the claim TTL at the measured pace.
_TTL_SHARE = 0.5
_FIRST_GUESS = 0.25  # seconds per call before any was measured: start with small claims
_LEARN = 0.1  # weight of the newest call in the moving average of call time
_URGENT_POLL = 0.1  # seconds between urgent-only claims while the queue is full
_STOP_RESERVE = 0.5  # seconds of the stop bound kept to write the last outcomes


class Dispatcher:
    def __init__(self, ctx: DispatchContext) -> None:
        self.ctx = ctx
        self.concurrency = ctx.settings.dispatch_concurrency
        self.stopping = threading.Event()
        self.claimed_total = 0
        self.call_seconds = _FIRST_GUESS  # moving average of the provider calls' wall time
        self.recorder = Recorder(ctx)
        self._jobs: queue.PriorityQueue[tuple[int, int, Job | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._claiming = threading.Lock()
        self._queued = 0
        self._calling = 0
        self._callers = [
            threading.Thread(target=self._caller, name=f"dispatch-call-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for thread in self._callers:
            thread.start()

    def tick(self, *, horizon: float | None = None) -> int:
        """Claim and queue everything due; if the next row falls due within `horizon`
        seconds, wait for it instead of returning (the tick may sleep until due)."""
        if horizon is None:
            # Return before the scheduler's next run is due, so no run is skipped.
            horizon = self.ctx.settings.dispatch_interval_seconds * _HORIZON_SHARE
        deadline = time.monotonic() + horizon
        queued = 0
        # The deadline is checked on every pass, not only when idle: under a steady trickle
        # each claim finds a row, and a tick that ran on past its horizon would make the
        # scheduler skip its next run, leaving rows due in that gap a whole interval late.
        while not self.stopping.is_set() and time.monotonic() < deadline:
            room = self._room()
            if room < self._least_claim():
                # Full: only urgent rows are claimed, and they go to the front.
                queued += self._claim_and_queue(self.concurrency, urgent_only=True)
                self._wait_for_room(min(deadline, time.monotonic() + _URGENT_POLL))
                continue
            claimed = self._claim_and_queue(min(room, self.batch_size))
            queued += claimed
            if not claimed and not self._sleep_until_next_due(deadline):
                break
        metrics.DISPATCH_TICKS.inc()
        return queued

    def claim(self, limit: int, *, urgent_only: bool = False) -> list[Job]:
        """One transaction: claim due rows, check them, fix their content (`intake`)."""
        jobs = claim_jobs(self.ctx, limit=limit, urgent_only=urgent_only)
        self.claimed_total += len(jobs)
        return jobs

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued job is called and its outcome written (True), or
        `timeout` passes."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queued or self._calling:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return self.recorder.idle(None if end is None else max(0.0, end - time.monotonic()))

    def stop(self, timeout: float | None = None) -> bool:
        """Stop claiming; give queued rows back at once (committed), let the calls in
        flight finish and write their outcomes, all within `timeout` seconds (default
        WORKER_STOP_SECONDS). True if nothing was left unwritten."""
        if timeout is None:
            timeout = self.ctx.settings.worker_stop_seconds
        end = time.monotonic() + timeout
        self.stopping.set()
        if self._claiming.acquire(timeout=max(0.0, end - time.monotonic() - _STOP_RESERVE)):
            self._claiming.release()
        released = self._release_queued()
        self.recorder.idle(max(0.0, end - time.monotonic() - _STOP_RESERVE))
        finished = self._wait_calls(end - _STOP_RESERVE)
        for _ in self._callers:
            self._jobs.put((9, next(self._order), None))
        written = self.recorder.close(max(0.1, end - time.monotonic()))
        log.info(kv("dispatch.stopped", released=released, calls_finished=finished,
                    written=written))  # fmt: skip
        return finished and written

    @property
    def inflight(self) -> int:
        return self._queued + self._calling

    @property
    def batch_size(self) -> int:
        return max(1, min(self.ctx.settings.dispatch_batch_size, self.concurrency * _PER_THREAD))

    def capacity(self) -> int:
        """How many jobs may wait in the queue: what the threads start within
        `_TTL_SHARE` of the claim TTL at the measured call time, within the batch bound."""
        fresh_for = self.ctx.options.claim_ttl_seconds * _TTL_SHARE
        startable = int(self.concurrency * fresh_for / max(self.call_seconds, 1e-3))
        return max(1, min(self.batch_size * _BATCHES, startable))

    def _room(self) -> int:
        with self._cond:
            return self.capacity() - self._queued

    def _least_claim(self) -> int:
        return max(1, min(self.batch_size, self.capacity() // _BATCHES))

    def _claim_and_queue(self, limit: int, *, urgent_only: bool = False) -> int:
        with self._claiming:  # `stop` waits for a claim under way, then releases its jobs
            if self.stopping.is_set():
                return 0
            return self._queue(self.claim(limit, urgent_only=urgent_only))

    def _queue(self, jobs: list[Job]) -> int:
        with self._cond:
            self._queued += len(jobs)
        for job in jobs:
            self._jobs.put((0 if job.urgent else 1, next(self._order), job))
        return len(jobs)

    def _wait_for_room(self, until: float) -> None:
        with self._cond:  # an RLock: `_room` takes it again
            while self._room() < self._least_claim() and not self.stopping.is_set():
                left = until - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    def _caller(self) -> None:
        """A sending thread: take the next job, fence it, call, hand on the outcome."""
        connection: Connection | None = None
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                connection = _close(connection)  # idle: give the connection back
                item = self._jobs.get()
            job = item[2]
            if job is None:
                _close(connection)
                return
            with self._cond:
                self._queued -= 1
                self._calling += 1
            each, connection = self._run(job, connection)
            self.recorder.put(each)
            with self._cond:
                self._calling -= 1
                self._cond.notify_all()

    def _run(self, job: Job, connection: Connection | None) -> tuple[Outcome, Connection | None]:
        if self.stopping.is_set():
            return Outcome(job, not_started=SHUTDOWN), connection
        try:
            if connection is None:
                connection = self.ctx.fence_engine.connect()
            each = run_job(self.ctx, connection, job, stopping=False)
        except Exception as exc:
            log.warning(kv("dispatch.fence_failed", message_id=job.message_id,
                           error=type(exc).__name__))  # fmt: skip
            return Outcome(job, not_started=NO_DATABASE), _close(connection, broken=True)
        if each.result is not None:
            self.call_seconds += _LEARN * (each.seconds - self.call_seconds)
        return each, connection

    def _release_queued(self) -> int:
        released = 0
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return released
            if item[2] is None:
                continue
            self.recorder.put(Outcome(item[2], not_started=SHUTDOWN))
            released += 1
            with self._cond:
                self._queued -= 1
                self._cond.notify_all()

    def _wait_calls(self, until: float) -> bool:
        with self._cond:
            while self._calling:
                left = until - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _sleep_until_next_due(self, deadline: float) -> bool:
        """Sleep until the next row is due if that is before `deadline`; False otherwise."""
        with session_scope(self.ctx.engine) as session:
            due = next_due_at(session)
        now = self.ctx.clock()
        if due is None:
            return False
        # Never spin: rows due now but locked by another worker's claim are theirs.
        wait = max((due - now).total_seconds(), _MIN_WAIT)
        if time.monotonic() + wait >= deadline:
            return False
        self.stopping.wait(wait)
        return True


def _close(connection: Any, *, broken: bool = False) -> Any:
    """Give the connection back (or drop a broken one); always None, to be assigned."""
    if connection is None:
        return None
    try:
        if broken:
            connection.invalidate()
        connection.close()
    except Exception:
        log.debug(kv("dispatch.connection_close_failed"), exc_info=True)
    return None
