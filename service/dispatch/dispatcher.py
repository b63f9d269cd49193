"""The per-process dispatch loop: claim due rows and hand them to the calls.

The tick claims (`intake`: checks and content in the claim's transaction) and queues
the jobs in `Calls`, where they are fenced and called on `dispatch_concurrency`
sending threads, urgent ones first; the `Recorder` writes the outcomes in bulk as they
come. No lock is held across a call. The tick claims only while the queue has room
(`Calls.capacity`: what the threads start in half the claim TTL at the measured pace),
and while it is full it still takes urgent rows (pages, safety-net replies) every
`_URGENT_POLL` seconds, which go to the front. Rows due while their senders have no
free slot wait in the database (`lanes`); the tick sleeps until the first busy sender
has one again.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from service import metrics
from service.db.engine import session_scope
from service.db.notices import OptOutNotices
from service.dispatch.calls import Calls
from service.dispatch.claim import next_due_at
from service.dispatch.context import DispatchContext
from service.dispatch.intake import Job, claim_jobs
from service.dispatch.recorder import Recorder
from service.logs import kv

log = logging.getLogger(__name__)
_MIN_WAIT = 0.02
_HORIZON_SHARE = 0.8
# Rows per sending thread in one claim. A claim costs a few statements whatever its size
# (claim, related rows, content); 50 rows per thread (400 at the default concurrency of
# 8) kept throughput near the raw SDK loop's (BENCHMARKS.md, Dispatch).
_PER_THREAD = 50
_URGENT_POLL = 0.1  # seconds between urgent-only claims while the queue is full
_STOP_RESERVE = 0.5  # seconds of the stop bound kept to write the last outcomes


def _covering(deadline: float, every: float | None, early: float) -> float:
    """The deadline moved on by whole intervals past every scheduled run already missed
    (a run is at `deadline + early`, then every `every` seconds)."""
    now = time.monotonic()
    if every is None or now < deadline + early:
        return deadline
    return deadline + every * (1 + int((now - deadline - early) // every))


class Dispatcher:
    def __init__(self, ctx: DispatchContext) -> None:
        self.ctx = ctx
        self.concurrency = ctx.settings.dispatch_concurrency
        self.stopping = threading.Event()
        self.claimed_total = 0
        self.recorder = Recorder(ctx)
        self.notices = OptOutNotices(ctx.engine)
        self.calls = Calls(ctx, self.recorder, batch=self.batch_size, stopping=self.stopping,
                           notices=self.notices)  # fmt: skip
        self._claiming = threading.Lock()
        self.room_at: datetime | None = None  # when a busy sender next has a slot

    def tick(
        self, *, horizon: float | None = None, every: float | None = None, early: float = 0.0
    ) -> int:
        """Claim and queue everything due; if the next row falls due within `horizon`
        seconds, wait for it instead of returning (the tick may sleep until due).

        `every`: the scheduler runs the tick every so many seconds, the next run `early`
        seconds after the horizon. A claim that ends past that run has made the scheduler
        skip it (one tick at a time), so the tick goes on to the horizon of the run after:
        under a backlog claims follow each other instead of waiting up to an interval
        for the next run while the sending threads run dry."""
        if horizon is None:
            # Return before the scheduler's next run is due, so no run is skipped.
            horizon = self.ctx.settings.dispatch_interval_seconds * _HORIZON_SHARE
        deadline = time.monotonic() + horizon
        queued = 0
        # The deadline is checked on every pass, not only when idle: under a steady trickle
        # each claim finds a row, and a tick that ran on past its horizon would make the
        # scheduler skip its next run, leaving rows due in that gap a whole interval late.
        while not self.stopping.is_set():
            deadline = _covering(deadline, every, early)
            if time.monotonic() >= deadline:
                break
            room = self.calls.room()
            if room < self.calls.least_claim():
                # Full: only urgent rows are claimed, and they go to the front.
                queued += self._claim_and_queue(self.concurrency, urgent_only=True)
                self.calls.wait_for_room(min(deadline, time.monotonic() + _URGENT_POLL))
                continue
            claimed = self._claim_and_queue(min(room, self.batch_size))
            queued += claimed
            if not claimed and not self._sleep_until_next_due(deadline):
                break
        metrics.DISPATCH_TICKS.inc()
        return queued

    def claim(self, limit: int, *, urgent_only: bool = False) -> list[Job]:
        """One transaction: claim due rows, check them, fix their content (`intake`)."""
        claimed = claim_jobs(self.ctx, limit=limit, urgent_only=urgent_only)
        self.room_at = claimed.room_at
        self.claimed_total += len(claimed.jobs)
        return claimed.jobs

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued job is called and its outcome written (True), or
        `timeout` passes."""
        end = None if timeout is None else time.monotonic() + timeout
        calls = self.calls
        if not calls.wait(lambda: not (calls.queued or calls.calling), end):
            return False
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
        released = self.calls.take_back()
        self.recorder.idle(max(0.0, end - time.monotonic() - _STOP_RESERVE))
        finished = self.calls.wait(lambda: not self.calls.calling, end - _STOP_RESERVE)
        self.calls.close()
        self.notices.close()
        written = self.recorder.close(max(0.1, end - time.monotonic()))
        log.info(kv("dispatch.stopped", released=released, calls_finished=finished,
                    written=written))  # fmt: skip
        return finished and written

    @property
    def inflight(self) -> int:
        return self.calls.queued + self.calls.calling

    @property
    def batch_size(self) -> int:
        return max(1, min(self.ctx.settings.dispatch_batch_size, self.concurrency * _PER_THREAD))

    def _claim_and_queue(self, limit: int, *, urgent_only: bool = False) -> int:
        with self._claiming:  # `stop` waits for a claim under way, then takes its jobs back
            if self.stopping.is_set():
                return 0
            jobs = self.claim(limit, urgent_only=urgent_only)
            self.calls.add(jobs)
            return len(jobs)

    def _sleep_until_next_due(self, deadline: float) -> bool:
        """Sleep until the next row is due, or (rows are due, their senders busy) until a
        busy sender next has a slot, if that is before `deadline`; False otherwise."""
        with session_scope(self.ctx.engine) as session:
            due = next_due_at(session)
        now = self.ctx.clock()
        if due is None:
            return False
        if due <= now and self.room_at is not None:
            due = self.room_at
        # Never spin: rows due now but locked by another worker's claim are theirs.
        wait = max((due - now).total_seconds(), _MIN_WAIT)
        if time.monotonic() + wait >= deadline:
            return False
        self.stopping.wait(wait)
        return True
