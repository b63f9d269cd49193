"""Status callbacks written to the database together, each answered once it is committed.

A burst brings two callbacks per message sent, from as many connections as Twilio
opens. Each request hands its callback to this writer and waits for it: one thread
writes everything that came in meanwhile with one INSERT and one COMMIT, then answers
them all. So each callback is stored before its 2xx (a failed commit answers 503 and
Twilio retries), but a burst costs a few transactions a second, not one per callback,
and no request waits on another's round trips (BENCHMARKS.md, Callbacks).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from typing import Any

from fastapi import Request
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from service.db.models import StatusCallback
from service.logs import kv

log = logging.getLogger(__name__)
_MOST = 500  # callbacks per transaction
_TABLE: Any = StatusCallback.__table__  # type: ignore[attr-defined]


class ReceiptsWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: list[tuple[dict[str, Any], Future[None]]] = []
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="receipts-writer", daemon=True)
        self._thread.start()

    async def record(self, row: dict[str, Any]) -> None:
        """Store one callback; returns once committed (raises what the commit raised)."""
        done: Future[None] = Future()
        with self._cond:
            self._pending.append((row, done))
            if len(self._pending) == 1:
                self._cond.notify()
        await asyncio.wrap_future(done)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending[:_MOST], self._pending[_MOST:]
            try:
                with self.engine.begin() as connection:
                    connection.execute(insert(_TABLE), [row for row, _ in batch])
            except Exception as exc:
                log.warning(kv("webhook.status.not_recorded", callbacks=len(batch),
                               error=type(exc).__name__))  # fmt: skip
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set_result(None)


def writer_for(request: Request) -> ReceiptsWriter:
    """The app's writer, started on first use (and closed with the app)."""
    state = request.app.state
    writer: ReceiptsWriter | None = getattr(state, "receipts_writer", None)
    if writer is None:
        with _STARTING:
            writer = getattr(state, "receipts_writer", None)
            if writer is None:
                writer = state.receipts_writer = ReceiptsWriter(state.engine)
    return writer


_STARTING = threading.Lock()
