"""Claimed jobs on their way to the provider: waiting, fenced, called.

Jobs wait in priority order (urgent first). One fencer thread takes the next ones and
fences them together (`fence.start_calls`: one committed statement), keeping a short
line of fenced jobs ready: between one and two `_ahead()` of them, the calls of about
50 ms (more when fences are slow, at most 0.5 s). The sending threads only call: each
takes the next ready job, calls its adapter and hands the outcome to the recorder. So
a call starts within about 0.1 s of its fence (at most about 1 s), and no thread
waits on the database between calls (a round trip per call, and its wait for the GIL
on return, cost about a third of the throughput: BENCHMARKS.md, Dispatch).

A fenced job that no thread started within the reconcile margin of its fence is not
called at all (see `_call`): the reconciler may already count its call as over.

A job with a send slot (its paced sender's, `lanes`) waits unfenced until its slot is
within the fence-ahead time, and its thread calls at the slot, not before and not more
than `SLOT_GRACE` after (else it goes back to the queue): so the fence stays right
before the call, and a sender's calls start within a tenth of a second of its slots.
Pages and safety-net replies are the exception: late, they still go (see `_missed`).

Claims are sized here too: the queue holds at most what the threads start in
`_TTL_SHARE` of the claim TTL at the measured call time, so a slow provider shrinks
claims instead of letting them grow stale unsent.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from typing import Any

from service.db.notices import OptOutNotices
from service.dispatch.context import DispatchContext
from service.dispatch.fence import Fence, start_calls
from service.dispatch.intake import Job
from service.dispatch.recorder import Recorder
from service.dispatch.send import FENCED, LATE, NO_DATABASE, SHUTDOWN, Outcome, timed_call
from service.logs import kv

log = logging.getLogger(__name__)
# Claims queued at once, at most: while the threads call the rows of some, the next
# claim's transaction runs, so the calls never run dry.
_BATCHES = 4
# Queued jobs must all start within this share of the claim TTL at the measured pace.
_TTL_SHARE = 0.5
_FIRST_GUESS = 0.25  # seconds per call before any was measured: start with small claims
_LEARN = 0.1  # weight of the newest call in the moving average of call time
# Seconds of calls kept fenced ahead of the sending threads: at least `_FENCE_AHEAD`, and
# twice the fences' own measured time (whose wait for the GIL grows with the load), so
# the threads never wait for a fence; at most `_FENCE_AHEAD_MOST`.
_FENCE_AHEAD = 0.05
_FENCE_AHEAD_MOST = 0.5
_FENCE_MOST = 128  # jobs per fence, at most
# Seconds a paced call may start after its slot; a job later than that is not called
# but given back to the queue (its row keeps its place and takes a fresh slot), so a
# sender's calls start within [slot, slot + SLOT_GRACE] and never bunch up to catch up.
SLOT_GRACE = 0.1


class Calls:
    """The waiting jobs, the fencer and the sending threads of one dispatcher."""

    def __init__(
        self,
        ctx: DispatchContext,
        recorder: Recorder,
        *,
        batch: int,
        stopping: threading.Event,
        notices: OptOutNotices,
    ) -> None:
        self.ctx = ctx
        self.recorder = recorder
        self.notices = notices
        self.concurrency = ctx.settings.dispatch_concurrency
        self.batch = batch  # rows per claim, at most
        self.most = batch * _BATCHES  # jobs queued at most, whatever the pace
        self.stopping = stopping
        self.call_seconds = _FIRST_GUESS  # moving average of the calls' wall time
        self.fence_seconds = 0.0  # moving average of the fences' wall time
        self.queued = 0  # waiting or fenced, not yet called
        self.calling = 0
        # A heap: urgent first, then FIFO; each with the monotonic instant of its slot
        # (None: no slot, call at once).
        self._waiting: list[tuple[int, int, float | None, Job]] = []
        # Jobs whose slot is still ahead: a heap by the slot's monotonic instant.
        self._timed: list[tuple[float, int, Job]] = []
        # Fenced jobs: (job, monotonic time of its fence, monotonic instant of its slot).
        self._ready: deque[tuple[Job, float, float | None]] = deque()
        self._order = itertools.count()
        self._closing = False
        lock = threading.Lock()
        self._for_fencer = threading.Condition(lock)
        self._for_callers = threading.Condition(lock)
        self.changed = threading.Condition(lock)  # room, drain and stop wait on this
        self._threads = [threading.Thread(target=self._fencer, name="dispatch-fence", daemon=True)]
        self._threads += [
            threading.Thread(target=self._caller, name=f"dispatch-call-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def capacity(self) -> int:
        """How many jobs may be queued: what the threads start within `_TTL_SHARE` of
        the claim TTL at the measured call time, and at most `most`."""
        fresh_for = self.ctx.options.claim_ttl_seconds * _TTL_SHARE
        startable = int(self.concurrency * fresh_for / max(self.call_seconds, 1e-3))
        return max(1, min(self.most, startable))

    def room(self) -> int:
        return self.capacity() - self.queued

    def least_claim(self) -> int:
        """The smallest claim worth its transaction while jobs are still queued."""
        return max(1, min(self.batch, self.capacity() // _BATCHES))

    def wait_for_room(self, until: float) -> None:
        self.wait(lambda: self.room() >= self.least_claim() or self.stopping.is_set(), until)

    def add(self, jobs: list[Job]) -> None:
        with self._for_fencer:
            now = time.monotonic()
            for job in jobs:
                at = (
                    None if job.not_before is None else now + self.ctx.seconds_until(job.not_before)
                )
                if at is not None and at > now:
                    heapq.heappush(self._timed, (at, next(self._order), job))
                else:
                    self._wait(job, next(self._order), at)
            self.queued += len(jobs)
            self._for_fencer.notify()

    def _wait(self, job: Job, order: int, at: float | None) -> None:
        heapq.heappush(self._waiting, (0 if job.urgent else 1, order, at, job))

    def take_back(self) -> int:
        """Every job not called yet, back to the recorder as not started (stopping)."""
        with self._for_fencer:
            jobs = [job for _, _, _, job in self._waiting] + [job for job, _, _ in self._ready]
            jobs += [job for _, _, job in self._timed]
            self._waiting.clear()
            self._timed.clear()
            self._ready.clear()
            self.queued -= len(jobs)
            self.changed.notify_all()
        for job in jobs:
            self.recorder.put(Outcome(job, not_started=SHUTDOWN))
        return len(jobs)

    def wait(self, done: Any, until: float | None) -> bool:
        """Wait until `done()` (called under the lock) or `until` (monotonic) passes."""
        with self.changed:
            while not done():
                left = None if until is None else until - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self.changed.wait(left)
        return True

    def close(self) -> None:
        with self._for_fencer:
            self._closing = True
            self._for_fencer.notify_all()
            self._for_callers.notify_all()

    def _fencer(self) -> None:
        connection: Any = None
        while True:
            with self._for_fencer:
                while not self._closing and not self._fence_due():
                    self._for_fencer.wait(self._until_next_slot())
                if self._closing:
                    break
                taken = [heapq.heappop(self._waiting) for _ in range(self._fence_size())]
                late = [job for _, _, at, job in taken if _missed(at, job)]
                self.queued -= len(late)
            for job in late:
                self.recorder.put(Outcome(job, not_started=LATE))
            batch = [(job, at) for _, _, at, job in taken if not _missed(at, job)]
            if batch:
                began = time.monotonic()
                connection, fenced = self._fence([job for job, _ in batch], connection)
                self._line_up(batch, fenced, began)
        _close(connection)

    def _until_next_slot(self) -> float | None:
        """Seconds until the next timed job is due to be fenced (None: no timed job)."""
        if not self._timed:
            return None
        return max(0.0, self._timed[0][0] - self._ahead_seconds() - time.monotonic())

    def _promote(self) -> None:
        """Timed jobs whose slot is within the fence-ahead time join the waiting ones."""
        soon = time.monotonic() + self._ahead_seconds()
        while self._timed and self._timed[0][0] <= soon:
            at, order, job = heapq.heappop(self._timed)
            self._wait(job, order, at)

    def _fence_due(self) -> bool:
        self._promote()
        if not self._waiting or self.stopping.is_set():
            return False
        return len(self._ready) < self._ahead() or self._waiting[0][0] == 0

    def _fence_size(self) -> int:
        return max(1, min(len(self._waiting), self._ahead()))

    def _ahead(self) -> int:
        """Jobs the threads call in the fence-ahead time: the ready line is refilled
        below this and by this much, so it holds between one and two of it."""
        ahead = int(self.concurrency * self._ahead_seconds() / max(self.call_seconds, 1e-3))
        return max(self.concurrency, min(ahead, _FENCE_MOST))

    def _ahead_seconds(self) -> float:
        return min(max(_FENCE_AHEAD, 2 * self.fence_seconds), _FENCE_AHEAD_MOST)

    def _fence(self, batch: list[Job], connection: Any) -> tuple[Any, set[int] | None]:
        """(the connection to keep, the ids fenced; None when the database failed)."""
        fences = [Fence(job.message_id, job.claim, job.opt_out) for job in batch]
        began = time.monotonic()
        try:
            if connection is None:
                connection = self.ctx.fence_engine.connect()
            ttl, now = self.ctx.options.claim_ttl, self.ctx.clock()
            fenced = start_calls(connection, fences, now=now, ttl=ttl)
            self.fence_seconds += _LEARN * (time.monotonic() - began - self.fence_seconds)
            return connection, fenced
        except Exception as exc:
            log.warning(kv("dispatch.fence_failed", jobs=len(batch), error=type(exc).__name__))
            return _close(connection, broken=True), None

    def _line_up(
        self, batch: list[tuple[Job, float | None]], fenced: set[int] | None, began: float
    ) -> None:
        refused = [job for job, _ in batch if fenced is None or job.message_id not in fenced]
        with self._for_fencer:
            for job, at in batch:
                if fenced is not None and job.message_id in fenced:
                    line_up = self._ready.appendleft if job.urgent else self._ready.append
                    line_up((job, began, at))
            self.queued -= len(refused)
            self._for_callers.notify(len(batch) - len(refused))
            if refused:
                self.changed.notify_all()
        why = NO_DATABASE if fenced is None else FENCED
        for job in refused:
            self.recorder.put(Outcome(job, not_started=why))

    def _caller(self) -> None:
        while True:
            with self._for_callers:
                while not self._ready and not self._closing:
                    self._for_callers.wait()
                if not self._ready:
                    return
                job, fenced_at, call_at = self._ready.popleft()
                self.queued -= 1
                self.calling += 1
                if len(self._ready) < self._ahead():  # refill while a fence's worth is left
                    self._for_fencer.notify()
                if self.room() >= self.least_claim():  # the tick may claim again
                    self.changed.notify_all()
            if call_at is not None and call_at > time.monotonic():
                # Its slot: a paced sender's call never starts early.
                self.stopping.wait(call_at - time.monotonic())
            self._call(job, fenced_at, call_at)

    def _call(self, job: Job, fenced_at: float, call_at: float | None) -> None:
        if self.stopping.is_set():  # fenced, but not called after all
            each = Outcome(job, not_started=SHUTDOWN)
        elif _missed(call_at, job):  # too late for its slot: back to the queue for another
            each = Outcome(job, not_started=LATE)
        elif _stale(fenced_at, self.ctx.options.reconcile_margin_seconds):
            each = Outcome(job, not_started=LATE)  # back to the queue, never sent twice
        elif self.notices.opted_out_since(job.patient_id, job.opt_out, fenced_at):
            each = Outcome(job, not_started=FENCED)  # a STOP committed after its fence
        else:
            each = timed_call(self.ctx, job)
            self.call_seconds += _LEARN * (each.seconds - self.call_seconds)
        self.recorder.put(each)
        with self.changed:
            self.calling -= 1
            if not self.calling:
                self.changed.notify_all()


def _stale(fenced_at: float, margin_seconds: float) -> bool:
    """Whether a fenced call can no longer start safely. The reconciler counts a fenced
    call as over one call horizon (the provider timeout + the margin) after its fence;
    started later than the margin, it could still be on its way when its row is found
    "not at the provider" and sent again (busy threads behind a hanging provider: the
    30% outage test saw a message reach the fake 2 s after its claim, after another
    worker had re-sent it)."""
    return time.monotonic() - fenced_at > margin_seconds


def _missed(call_at: float | None, job: Job) -> bool:
    """Whether a paced job's slot passed more than `SLOT_GRACE` ago (a worker that fell
    behind must not make up for it with calls back to back). Never for a page or a
    safety-net reply: sent back, a loaded worker could miss its next slot too, again
    and again (bench/scale_day.py saw a page claimed 97 times, 309 s late); it goes as
    soon as it can, on the slot it already took from its sender's bucket."""
    return not job.urgent and call_at is not None and time.monotonic() > call_at + SLOT_GRACE


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
