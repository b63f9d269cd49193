"""The dispatch path's own CPU per message, without any provider: how batch size pays.

Claims and sends due plan SMS on one thread (`Dispatcher.claim`, then `send_now`) with
an adapter that answers at once, so what is timed is only our work: the claim with its
checks and rendering, each call's fence (one committed statement) and the recorded
outcomes (one transaction per claim here). CPU time of this process
(the database server's own work is not in it). One run per batch size and back-end; the
baseline is the old default batch of 100 rows in the same run, and each size's ratio is
its CPU per message over the baseline's. Last line: one JSON object.

    .venv/bin/python bench/dispatch_overhead.py [--messages 4000] [--sizes 50,100,200,400]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch_common import database, machine, seed
from service.channels.base import OutboundMessage, Receipt
from service.config import load_settings
from service.db.engine import make_engine
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.dispatch.send import send_now
from service.domain import Channel

BASELINE_SIZE = 100


class InstantAdapter:
    """Answers every send at once: the provider's cost is left out."""

    name = "instant"
    can_find_sent = False

    def send(self, message: OutboundMessage) -> Receipt:
        return Receipt(provider=self.name, provider_id=f"IN{message.message_id}")


def own_cpu_ms_per_msg(kind: str, count: int, batch: int, workdir: Path) -> float:
    with database(kind, workdir) as url:
        settings = load_settings(database_url=url, log_level="WARNING")
        seed(settings, [datetime.now(UTC) - timedelta(seconds=1)] * (count + batch))
        engine = make_engine(settings)
        ctx = DispatchContext(settings=settings, engine=engine, worker_id="bench")
        ctx.adapters[Channel.SMS] = InstantAdapter()
        dispatcher = Dispatcher(ctx)
        try:
            _send_one_batch(ctx, dispatcher, batch)  # warm-up: imports, caches, prepares
            sent, started = 0, time.process_time()
            while sent < count:
                sent += _send_one_batch(ctx, dispatcher, batch)
            cpu = time.process_time() - started
        finally:
            dispatcher.stop()
            engine.dispose()
    return 1000 * cpu / sent


def _send_one_batch(ctx: DispatchContext, dispatcher: Dispatcher, batch: int) -> int:
    jobs = dispatcher.claim(batch)
    results = send_now(ctx, jobs)
    if not jobs or set(results) != {"sent"}:
        raise SystemExit(f"expected a full batch sent, got {len(jobs)} jobs: {results}")
    return len(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--sizes", default="50,100,200,400")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",")} | {BASELINE_SIZE})
    result: dict = {"bench": "dispatch_overhead", "messages": args.messages}
    result["machine"] = machine()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.backends.split(","):
            figures = {n: own_cpu_ms_per_msg(kind, args.messages, n, Path(tmp)) for n in sizes}
            base = figures[BASELINE_SIZE]
            result[kind] = {
                str(n): {"cpu_ms_per_msg": round(ms, 3), "ratio_to_batch_100": round(ms / base, 3)}
                for n, ms in figures.items()
            }
            for n, ms in figures.items():
                print(f"{kind:10s} batch {n:4d}: {ms:.3f} CPU ms/msg ({ms / base:.2f}x batch 100)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
