"""The last word before a provider call: one statement, committed, per call.

Just before its call, a claimed row is marked `call_started_at = now, attempts + 1` by
one UPDATE that only matches while

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
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, exists, select, update

from service.db.models import Message, Patient
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

# PostgreSQL: the same statements as text, run on the driver's connection (autocommit,
# see `DispatchContext.fence_engine`) as server-side prepared statements. One per call
# is the dispatcher's hottest statement: through SQLAlchemy it cost ~0.12 ms of CPU,
# this way ~0.02 ms (BENCHMARKS.md, Dispatch).
_PG_SQL = {
    name: (
        "UPDATE messages SET call_started_at = %(now)s, attempts = attempts + 1"
        " WHERE id = %(message_id)s AND status = 'sending' AND claim_count = %(claim)s"
        " AND claimed_at > %(fresh_after)s"
        + (
            ""
            if name is None
            else " AND NOT EXISTS (SELECT 1 FROM patients p"
            f" WHERE p.id = messages.patient_id AND p.{name} IS NOT NULL)"
        )
    )
    for name in (None, *OPT_OUT_COLUMNS)
}


def start_call(
    connection: Connection,
    *,
    message_id: int,
    claim: int,
    opt_out: str | None,
    now: datetime,
    ttl: timedelta,
) -> bool:
    """Mark the call started (and commit); False if it must not be made."""
    params = {"message_id": message_id, "claim": claim, "fresh_after": now - ttl, "now": now}
    if connection.dialect.name == "postgresql":
        driver: Any = connection.connection.driver_connection
        if driver.autocommit:  # each statement commits: the mark is durable at once
            return bool(driver.execute(_PG_SQL[opt_out], params, prepare=True).rowcount == 1)
    with connection.begin():
        matched = connection.execute(_STATEMENTS[opt_out], params).rowcount
    return matched == 1
