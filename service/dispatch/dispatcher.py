"""The per-process dispatch loop: claim, prepare, hand to a bounded thread pool.

The twilio SDK and smtplib block, so sends run on `dispatch_concurrency` threads. The
loop claims only what the pool can start soon (`_BATCHES` batches of a few rows per
thread), so the other workers get their share; a call whose claim has nevertheless grown
older than the claim TTL while queued is not started (`send.call_in_time`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from service import metrics
from service.db.engine import session_scope
from service.db.models import Clinic, Enrollment, Message, Patient
from service.dispatch import outcome
from service.dispatch.claim import claim_due, next_due_at
from service.dispatch.content import ContentError, content_of, load_related, store_content
from service.dispatch.context import DispatchContext
from service.dispatch.send import Call, Claim, Result, send_batch
from service.logs import kv

log = logging.getLogger(__name__)
_MIN_WAIT = 0.02
_HORIZON_SHARE = 0.8
# Batches in flight at once, each checked, sent and recorded in its own transaction: while
# some wait on the provider, others are in the database, so the calls never run dry.
_BATCHES = 4
# Rows per sending thread in one batch. A batch costs about 20 statements (claim, render,
# re-check, record) whatever its size, and each round trip also hands the GIL to and from
# the call threads: 50 rows per thread (400 at the default concurrency of 8) raised
# throughput from about 67% to 78% of the raw SDK loop (BENCHMARKS.md, Dispatch). The
# locks a batch holds stay bounded by the claim TTL: a call not started within it is
# released, whatever the batch size.
_PER_THREAD = 50


class Dispatcher:
    def __init__(self, ctx: DispatchContext) -> None:
        self.ctx = ctx
        self.concurrency = ctx.settings.dispatch_concurrency
        # HTTP calls run on `calls`; each claimed batch is checked, sent and recorded in one
        # transaction on a `batches` thread, `_BATCHES` at a time so calls never run dry.
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="dispatch-call")
        self.batches = ThreadPoolExecutor(_BATCHES, thread_name_prefix="dispatch-batch")
        self.stopping = threading.Event()
        self._inflight = 0
        self._inflight_batches = 0
        self._done = threading.Condition()
        self.claimed_total = 0

    def tick(self, *, horizon: float | None = None) -> int:
        """Claim and start everything due; if the next row falls due within `horizon`
        seconds, wait for it instead of returning (the tick may sleep until due)."""
        if horizon is None:
            # Return before the scheduler's next run is due, so no run is skipped and the
            # pool's backlog (see `_wait_for_capacity`) covers the gap between ticks.
            horizon = self.ctx.settings.dispatch_interval_seconds * _HORIZON_SHARE
        deadline = time.monotonic() + horizon
        started = 0
        # The deadline is checked on every pass, not only when idle: under a steady trickle
        # each claim finds a row, and a tick that ran on past its horizon would make the
        # scheduler skip its next run, leaving rows due in that gap a whole interval late.
        while not self.stopping.is_set() and time.monotonic() < deadline:
            free = self._wait_for_capacity(deadline)
            if free == 0:
                break
            claims = self.claim(min(free, self._batch_size()))
            if claims:
                self._submit(claims)
            started += len(claims)
            if not claims and not self._sleep_until_next_due(deadline):
                break
        metrics.DISPATCH_TICKS.inc()
        return started

    def claim(self, limit: int) -> list[Claim]:
        """One transaction: claim due rows and fix their content and recipient."""
        ctx = self.ctx
        with session_scope(ctx.engine) as session:
            now = ctx.clock()
            messages = claim_due(session, worker_id=ctx.worker_id, now=now, limit=limit)
            related = load_related(session, messages)
            ready = []
            contents = []
            for message in messages:
                patient = cast(Patient | None, related["patient"].get(message.patient_id or 0))
                try:
                    contents.append(
                        content_of(
                            session,
                            message,
                            patient=patient,
                            enrollment=cast(
                                Enrollment | None,
                                related["enrollment"].get(message.enrollment_id or 0),
                            ),
                            clinic=cast(Clinic, related["clinic"][message.clinic_id]),
                            renderer=ctx.templates,
                            plans=ctx.plans,
                            links=ctx.unsubscribe,
                        )
                    )
                except ContentError as exc:  # rare: now as objects, to be changed
                    patient = session.get(Patient, message.patient_id) if patient else None
                    row = session.get(Message, message.id)
                    assert row is not None
                    outcome.fail(session, row, reason=str(exc), patient=patient, now=now)
                    continue
                ready.append(message)
            store_content(session, ready, contents)
            claims = [Claim(m.id, m.attempts) for m in ready]
        self.claimed_total += len(claims)
        return claims

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every started send has finished (True) or `timeout` passes."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while self._inflight:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._done.wait(left)
        return True

    def stop(self, timeout: float = 60.0) -> None:
        """Stop claiming; rows not yet started are released, the rest finish."""
        self.stopping.set()
        self.drain(timeout)
        self.batches.shutdown(wait=True)
        self.pool.shutdown(wait=True)

    @property
    def inflight(self) -> int:
        return self._inflight

    def _batch_size(self) -> int:
        return max(1, min(self.ctx.settings.dispatch_batch_size, self.concurrency * _PER_THREAD))

    def _submit(self, claims: list[Claim]) -> None:
        with self._done:
            self._inflight += len(claims)
            self._inflight_batches += 1
        future = self.batches.submit(self._send, claims)
        future.add_done_callback(lambda _f: self._finished(len(claims)))

    def _send(self, claims: list[Claim]) -> dict[int, str]:
        try:
            return send_batch(
                self.ctx, claims, stopping=self.stopping.is_set, call_many=self._call_many
            )
        except Exception:
            # The rows stay `sending`; reconciliation will settle them. Never crash the loop.
            log.exception(kv("dispatch.batch_crashed", first=claims[0].message_id))
            return {}

    def _call_many(self, calls: Sequence[Call]) -> list[Result]:
        """The batch's calls on the shared pool: one task per thread, each taking the next
        call until none is left; results in the calls' order. (A future per call woke the
        waiting batch thread once per call: about a tenth more CPU per message.)"""
        results: list[Result | None] = [None] * len(calls)
        pending = iter(enumerate(calls))
        lock = threading.Lock()

        def take_calls() -> None:
            while True:
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                index, each = item
                results[index] = each()

        tasks = [self.pool.submit(take_calls) for _ in range(min(self.concurrency, len(calls)))]
        for task in tasks:
            task.result()
        return cast(list[Result], results)

    def _finished(self, count: int) -> None:
        with self._done:
            self._inflight -= count
            self._inflight_batches -= 1
            self._done.notify_all()

    def _wait_for_capacity(self, deadline: float) -> int:
        limit = self._batch_size() * _BATCHES
        with self._done:
            # Claim only when a batch thread is free: under a trickle, rows then wait in
            # the table and the next claim takes all that fell due, instead of queueing
            # many one-row batches whose claims age behind each other.
            while self._busy(limit) and not self.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return 0
                self._done.wait(left)
            return 0 if self.stopping.is_set() else limit - self._inflight

    def _busy(self, limit: int) -> bool:
        return self._inflight >= limit or self._inflight_batches >= _BATCHES

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
