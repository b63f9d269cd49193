"""One job through its fence and its channel adapter.

`run_group` is what a sending thread does with the few jobs it takes at once: unless
the worker is stopping, their fence (one committed statement: still ours, claim fresh,
patient not opted out) and then each provider call. It never touches the rows again:
each `Outcome` goes to the recorder, which writes outcomes in bulk (`recorder`).
`send_now` does both on the calling thread, for tests and the overhead benchmark.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from service.channels.base import DeliveryError, OutboundMessage, Receipt
from service.dispatch.context import DispatchContext
from service.dispatch.fence import Fence, start_calls
from service.dispatch.intake import Job
from service.logs import kv

log = logging.getLogger(__name__)
Result = Receipt | DeliveryError

SHUTDOWN = "shutdown"  # the worker is stopping: the call was not started
FENCED = "fenced"  # the fence did not match: not ours, claim too old, or opted out
NO_DATABASE = "no database"  # the fence could not be written: nothing is known
LATE = "late"  # the worker fell behind its sender's slot: not called, back to the queue


@dataclass(frozen=True)
class Outcome:
    """What became of a job: the provider's answer, or why no call was made."""

    job: Job
    result: Result | None = None  # None: no call was made
    not_started: str | None = None  # SHUTDOWN, FENCED, NO_DATABASE or LATE
    seconds: float = 0.0  # the call's wall time
    at: datetime | None = None  # when the answer came (the row's sent_at if it was sent)


def run_group(
    ctx: DispatchContext,
    connection: Connection,
    jobs: Sequence[Job],
    *,
    stopping: Callable[[], bool],
    done: Callable[[Outcome], None],
) -> None:
    """Fence the jobs in one statement, then call each fenced one at once, in order,
    handing each outcome to `done` as it comes. Raises only what the connection raises
    (then no call was made; the caller drops the connection)."""
    if stopping():
        for job in jobs:
            done(Outcome(job, not_started=SHUTDOWN))
        return
    fences = [Fence(job.message_id, job.claim, job.opt_out) for job in jobs]
    started = start_calls(connection, fences, now=ctx.clock(), ttl=ctx.options.claim_ttl)
    for job in jobs:
        if job.message_id not in started:
            done(Outcome(job, not_started=FENCED))
        elif stopping():  # fenced, but the worker is stopping: not called after all
            done(Outcome(job, not_started=SHUTDOWN))
        else:
            done(timed_call(ctx, job))


def timed_call(ctx: DispatchContext, job: Job) -> Outcome:
    began = time.monotonic()
    result = call(ctx, job.outbound)
    return Outcome(job, result=result, seconds=time.monotonic() - began, at=ctx.clock())


def call(ctx: DispatchContext, message: OutboundMessage) -> Result:
    """The provider call; never raises (an unexpected error is an unknown outcome)."""
    try:
        return ctx.adapter(message.channel).send(message)
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # an adapter bug: we cannot know whether it sent
        log.exception(kv("dispatch.adapter_crashed", message_id=message.message_id))
        return DeliveryError(f"adapter error: {type(exc).__name__}", permanent=False, in_doubt=True)


def send_now(ctx: DispatchContext, jobs: Sequence[Job], *, stopping: bool = False) -> list[str]:
    """Fence, call and record the jobs on this thread; what happened to each, in order."""
    from service.dispatch.recorder import record_outcomes

    outcomes: list[Outcome] = []
    with ctx.fence_engine.connect() as connection:
        run_group(ctx, connection, jobs, stopping=lambda: stopping, done=outcomes.append)
    results = record_outcomes(ctx, outcomes)
    return [results[job.message_id] for job in jobs]
