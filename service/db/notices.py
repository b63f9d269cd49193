"""Opt-outs (and opt-ins) announced the moment they commit.

Whatever changes a patient's `sms_opted_out_at` or `email_opted_out_at` through the ORM
(STOP, START, an unsubscribe link, a carrier opt-out) announces it at commit, and never
one rolled back: on PostgreSQL with `pg_notify` in the same transaction, to every
process; on SQLite (one process) to a registry in this process. Each dispatcher asks
`OptOutNotices.noticed` right before every call, so a STOP also stops a call fenced a
moment before it committed (see `service.dispatch.calls`). A notice lost while the
listener reconnects costs only that last-moment check: the fence itself reads the
opt-out in the database.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import event, func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.db.models import Patient
from service.logs import kv

log = logging.getLogger(__name__)
CHANNEL = "aftercare_opt_out"
COLUMNS = ("sms_opted_out_at", "email_opted_out_at")
_KEEP = 600.0  # seconds a notice is remembered (far longer than a fenced call waits)
_POLL = 0.25  # seconds between looks at `close()`: how long closing waits for the thread
_PENDING = "aftercare_opt_out_notices"  # session.info key: this transaction's notices
_LOCAL: dict[tuple[int, str], tuple[float, bool]] = {}  # SQLite: this process's notices


def _collect(session: Session, _context: Any) -> None:
    """After each flush: the opt-out changes it wrote (PostgreSQL: notified at commit)."""
    for obj in session.dirty:  # a new patient is in no dispatcher's queue yet
        if not isinstance(obj, Patient) or obj.id is None:
            continue
        state = inspect(obj)
        for column in COLUMNS:
            history = state.attrs[column].history
            if not history.added and not history.deleted:
                continue
            out = bool(history.added) and history.added[0] is not None
            payload = f"{obj.id}:{column}:{'out' if out else 'in'}"
            if session.get_bind().dialect.name == "postgresql":
                session.connection().execute(select(func.pg_notify(CHANNEL, payload)))
            else:
                session.info.setdefault(_PENDING, []).append(payload)


def _committed(session: Session) -> None:
    for payload in session.info.pop(_PENDING, []):
        _note(_LOCAL, payload)


def _rolled_back(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


def install() -> None:
    """Announce opt-out changes from every ORM session (idempotent)."""
    for name, listener in (("after_flush", _collect), ("after_commit", _committed),
                           ("after_soft_rollback", _rolled_back)):  # fmt: skip
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def _note(seen: dict[tuple[int, str], tuple[float, bool]], payload: str) -> None:
    patient_id, _, rest = payload.partition(":")
    column, _, change = rest.partition(":")
    if patient_id.isdigit() and column in COLUMNS:
        seen[(int(patient_id), column)] = (time.monotonic(), change == "out")


class OptOutNotices:
    """Opt-out notices as they come (a listening thread on PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        install()
        self.engine = engine
        self._closing = threading.Event()
        self._seen: dict[tuple[int, str], tuple[float, bool]] = _LOCAL
        self._thread: threading.Thread | None = None
        if engine.dialect.name == "postgresql":
            self._seen = {}
            self._thread = threading.Thread(target=self._run, name="opt-out-notices", daemon=True)
            self._thread.start()

    def opted_out_since(self, patient_id: int | None, column: str | None, since: float) -> bool:
        """Did this patient opt out of `column` (and stay out) after `since` (monotonic)?"""
        if column is None or patient_id is None:
            return False
        at, out = self._seen.get((patient_id, column), (0.0, False))
        return out and at >= since

    def close(self, timeout: float = 2.0) -> None:
        """Stop listening and wait for the thread, so that no connection outlives the
        dispatcher (a reconnect racing a database being dropped leaked one)."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                self._listen()
            except Exception as exc:  # the database went away: listen again shortly
                log.warning(kv("notices.listen_failed", error=type(exc).__name__))
                self._closing.wait(1.0)

    def _listen(self) -> None:
        raw: Any = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            driver.autocommit = True
            driver.execute(f"LISTEN {CHANNEL}")
            while not self._closing.is_set():
                for notice in driver.notifies(timeout=_POLL):
                    _note(self._seen, notice.payload)
                self._forget_old()
        finally:
            raw.invalidate()  # a listening connection never goes back to the pool
            raw.close()

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - _KEEP
        for key in [key for key, (at, _) in list(self._seen.items()) if at < cutoff]:
            self._seen.pop(key, None)
