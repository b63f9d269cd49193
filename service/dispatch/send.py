"""One job through its fence and its channel adapter.

`run_job` is what a sending thread does with each job: unless the worker is stopping,
the fence (one committed statement: still ours, claim fresh, patient not opted out)
and then the provider call. It never touches the row again: the `Outcome` goes to the
recorder, which writes outcomes in bulk (`recorder`). `send_now` does both on the
calling thread, for tests and the overhead benchmark.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from service.channels.base import DeliveryError, OutboundMessage, Receipt
from service.dispatch.context import DispatchContext
from service.dispatch.fence import start_call
from service.dispatch.intake import Job
from service.logs import kv

log = logging.getLogger(__name__)
Result = Receipt | DeliveryError

SHUTDOWN = "shutdown"  # the worker is stopping: the call was not started
FENCED = "fenced"  # the fence did not match: not ours, claim too old, or opted out
NO_DATABASE = "no database"  # the fence could not be written: nothing is known


@dataclass(frozen=True)
class Outcome:
    """What became of a job: the provider's answer, or why no call was made."""

    job: Job
    result: Result | None = None  # None: no call was made
    not_started: str | None = None  # SHUTDOWN, FENCED or NO_DATABASE
    seconds: float = 0.0  # the call's wall time


def run_job(ctx: DispatchContext, connection: Connection, job: Job, *, stopping: bool) -> Outcome:
    """The fence, then the call. Raises only what the connection raises (the caller
    drops a broken connection); an Outcome with `not_started` means no call was made."""
    if stopping:
        return Outcome(job, not_started=SHUTDOWN)
    now = ctx.clock()
    started = start_call(
        connection, message_id=job.message_id, claim=job.claim, opt_out=job.opt_out, now=now,
        ttl=ctx.options.claim_ttl,
    )  # fmt: skip
    if not started:
        return Outcome(job, not_started=FENCED)
    return timed_call(ctx, job)


def timed_call(ctx: DispatchContext, job: Job) -> Outcome:
    began = time.monotonic()
    result = call(ctx, job.outbound)
    return Outcome(job, result=result, seconds=time.monotonic() - began)


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
    """Fence, call and record each job on this thread; what happened to each, in order."""
    from service.dispatch.recorder import record_outcomes

    with ctx.fence_engine.connect() as connection:
        outcomes = [run_job(ctx, connection, job, stopping=stopping) for job in jobs]
    results = record_outcomes(ctx, outcomes)
    return [results[job.message_id] for job in jobs]
