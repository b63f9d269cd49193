"""The last word before a provider call: one committed statement.

Just before its call, a claimed row is marked `call_started_at = now, attempts + 1` by
an UPDATE that only matches while

- the row is still `sending` in this claim (`claim_count`), so no other worker, no
  reconciliation and no release can have taken it;
- the claim is younger than the claim TTL, so the checks made at claim time are fresh;
- the patient has not opted out of this channel (SMS: not for the STOP confirmation,
  the one text carriers allow after STOP; never for pages, which go to staff).

No lock outlives the statement, so a STOP never waits on a provider call: if its commit
comes first, the fence does not match and the call is never made; if the fence comes
first, the call was started before the opt-out was recorded. Committing the mark before
the call is also what makes a crash cheap: a row in `sending` without `call_started_at`
never reached the provider and goes back to the queue without asking it, and `attempts`
counts real calls, not claims.

A sending thread fences the few jobs it takes at once in one statement (`start_calls`)
and calls them right after, one after the other: as many as it calls in about 50 ms
(`dispatcher`), so a call starts at most that long after its fence.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, exists, select, update

from service.db.models import Message, Patient
from service.db.types import sqlite_text
from service.domain import MessageStatus

_MESSAGES: Any = Message.__table__  # type: ignore[attr-defined]
_PATIENTS: Any = Patient.__table__  # type: ignore[attr-defined]
# The opt-out columns `checks.opt_out_fence` names.
OPT_OUT_COLUMNS = ("sms_opted_out_at", "email_opted_out_at")


def _statement(opt_out: str | None) -> Any:
    m = _MESSAGES
    statement = update(m).where(
        m.c.id == bindparam("message_id"),
        m.c.status == MessageStatus.SENDING,
        m.c.claim_count == bindparam("claim"),
        m.c.claimed_at > bindparam("fresh_after"),
    )
    if opt_out is not None:
        p = _PATIENTS
        opted_out = select(p.c.id).where(p.c.id == m.c.patient_id, p.c[opt_out].is_not(None))
        statement = statement.where(~exists(opted_out))
    return statement.values(call_started_at=bindparam("now"), attempts=m.c.attempts + 1)


# One statement per kind of fence, built once: the compiled form is cached and reused.
_STATEMENTS = {name: _statement(name) for name in (None, *OPT_OUT_COLUMNS)}

# PostgreSQL: a group's fences as one statement on the driver's connection (autocommit,
# see `DispatchContext.fence_engine`), server-side prepared: the dispatcher's hottest
# statement, so neither SQLAlchemy's per-statement work (~0.1 ms of CPU) nor a round
# trip per call, whose wait for the GIL on return slows every sending thread.
_PG_GROUP = (
    "UPDATE messages AS m SET call_started_at = %(now)s, attempts = m.attempts + 1"
    " FROM unnest(%(ids)s::int[], %(claims)s::int[], %(fences)s::text[]) AS j(id, claim, fence)"
    " WHERE m.id = j.id AND m.status = 'sending' AND m.claim_count = j.claim"
    " AND m.claimed_at > %(fresh_after)s"
    " AND NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = m.patient_id AND ("
    + " OR ".join(f"(j.fence = '{name}' AND p.{name} IS NOT NULL)" for name in OPT_OUT_COLUMNS)
    + ")) RETURNING m.id"
)


# SQLite: the same, the group as one JSON parameter. One statement whatever the group's
# size: row by row, each statement gave the GIL up and waited to take it back from the
# busy sending threads, and a group of 100 took ~0.2 s while the threads ran dry. The
# unary + keeps SQLite from walking the status index: each row is found by its id.
_SQLITE_GROUP = (
    "UPDATE messages AS m SET call_started_at = ?, attempts = m.attempts + 1"
    " FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS claim,"
    " json_extract(value, '$[2]') AS fence"
    " FROM json_each(?)) AS j"
    " WHERE m.id = j.id AND +m.status = 'sending' AND m.claim_count = j.claim"
    " AND m.claimed_at > ?"
    " AND NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = m.patient_id AND ("
    + " OR ".join(f"(j.fence = '{name}' AND p.{name} IS NOT NULL)" for name in OPT_OUT_COLUMNS)
    + ")) RETURNING id"
)


@dataclass(frozen=True)
class Fence:
    """One call to fence: the row, its claim, and the opt-out column to check (if any)."""

    message_id: int
    claim: int
    opt_out: str | None


def start_calls(
    connection: Connection, fences: Sequence[Fence], *, now: datetime, ttl: timedelta
) -> set[int]:
    """Mark the calls started, all in one commit; the ids of those that may be made.
    The caller makes them at once, one after the other (see `dispatcher`)."""
    if not fences:
        return set()
    if connection.dialect.name == "postgresql":
        driver: Any = connection.connection.driver_connection
        if driver.autocommit:  # the statement commits: the marks are durable at once
            params = {
                "ids": [f.message_id for f in fences], "claims": [f.claim for f in fences],
                "fences": [f.opt_out or "" for f in fences], "fresh_after": now - ttl, "now": now,
            }  # fmt: skip
            return {row[0] for row in driver.execute(_PG_GROUP, params, prepare=True)}
    if connection.dialect.name == "sqlite":
        jobs = json.dumps([[f.message_id, f.claim, f.opt_out or ""] for f in fences])
        group = (sqlite_text(now), jobs, sqlite_text(now - ttl))
        with connection.begin():
            return {row[0] for row in connection.exec_driver_sql(_SQLITE_GROUP, group)}
    started = set()
    with connection.begin():
        for f in fences:
            params = {"message_id": f.message_id, "claim": f.claim, "fresh_after": now - ttl,
                      "now": now}  # fmt: skip
            if connection.execute(_STATEMENTS[f.opt_out], params).rowcount == 1:
                started.add(f.message_id)
    return started
