"""Rows left in `sending`: settle each, and never by a blind resend.

Two kinds, told apart by `call_started_at` (written by the fence before any call):

- never called: the claim was abandoned (a worker died, or could not reach the database
  when it was to call). Once the claim is older than the claim TTL (plus the margin) no
  call can start for it any more (the fence refuses), so the rows go straight back to
  the queue where they were, in one statement, without asking anyone.
- called: in doubt. Once the call is over (it answered 5xx or timed out, or its
  channel's own timeout has passed since it started) the provider is asked, one
  listing per recipient for all of that recipient's rows, the listings in parallel:
  found -> sent with its id; not found once the provider's listing window has passed
  as well -> scheduled again per the retry policy; the adapter cannot tell (email) ->
  the review queue, for a person. The answers are written in one transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from service.channels.base import ChannelAdapter, DeliveryError, Receipt
from service.db.engine import session_scope
from service.db.models import Message, Patient
from service.db.queries import one_of
from service.dispatch import outcome
from service.dispatch.context import DispatchContext
from service.domain import Channel, MessageStatus
from service.logs import kv
from service.outbox import record_moves, transition

log = logging.getLogger(__name__)
REVIEW_REASON = "in doubt: the provider cannot say whether it was sent; a person decides"
ABANDONED_REASON = "released unsent: its claim was abandoned before any call"
_CANNOT_TELL = "cannot tell"
_NO_ANSWER = "no answer"
_LISTINGS = 8  # provider listings in flight at once
Answer = Receipt | str | None  # a receipt, None (not found), or why there is no answer


@dataclass
class ReconcileReport:
    released: list[int] = field(default_factory=list)
    found: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    review: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)


def reconcile_in_doubt(
    ctx: DispatchContext, *, now: datetime, stopping: Callable[[], bool] = lambda: False
) -> ReconcileReport:
    report = ReconcileReport(released=release_abandoned(ctx, now=now))
    after: int = 0
    while not stopping():
        rows = _in_doubt(ctx, now=now, after=after)
        if not rows:
            break
        _settle_all(ctx, rows, _ask_all(ctx, rows, stopping), now=now, report=report)
        after = rows[-1].id or 0
    if report.released or report.found or report.retried or report.review:
        log.info(kv("reconcile.done", released=len(report.released), found=len(report.found),
                    retried=len(report.retried), review=len(report.review),
                    waiting=len(report.waiting)))  # fmt: skip
    return report


def release_abandoned(ctx: DispatchContext, *, now: datetime) -> list[int]:
    """Claimed rows no call was started for, whose claim is too old to start one now:
    back to the queue in their place (no attempt was made)."""
    cutoff = now - ctx.options.claim_ttl - ctx.options.margin
    table: Any = Message.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(
            table.c.status == MessageStatus.SENDING,
            table.c.call_started_at.is_(None),
            table.c.claimed_at < cutoff,
        )
        .values(
            status=MessageStatus.SCHEDULED,
            status_reason=ABANDONED_REASON,
            updated_at=now,
            claimed_at=None,
            claimed_by=None,
        )
        .returning(table.c.id)
    )
    with session_scope(ctx.engine) as session:
        ids = sorted(session.connection().execute(statement).scalars())
        record_moves(session, ids, MessageStatus.SENDING, MessageStatus.SCHEDULED,
                     reason=ABANDONED_REASON, now=now)  # fmt: skip
    return ids


def _in_doubt(ctx: DispatchContext, *, now: datetime, after: int) -> list[Any]:
    """Called rows whose call is over: it answered (no claimer left), or its channel's
    timeout (plus the margin) has passed since it started."""
    started = col(Message.call_started_at)
    over: list[Any] = [col(Message.claimed_by).is_(None)]
    for channel in Channel:
        horizon = ctx.options.call_horizon(ctx.settings, channel)
        over.append(and_(col(Message.channel) == channel, started < now - horizon))
    query = (
        select(Message)
        .where(Message.status == MessageStatus.SENDING, started.is_not(None), or_(*over))
        .where(col(Message.id) > after)
        .order_by(col(Message.id))
        .limit(ctx.options.reconcile_batch)
    )
    with session_scope(ctx.engine) as session:
        return list(session.exec(query).all())


def _ask_all(
    ctx: DispatchContext, rows: list[Any], stopping: Callable[[], bool]
) -> dict[int, Answer]:
    """Every row's answer: one question per (channel, recipient), asked in parallel
    (none once the worker is stopping: they are asked again by the next run)."""
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    answers: dict[int, Answer] = {}
    for row in rows:
        if row.body is None or row.to_address is None:
            answers[row.id] = None  # never prepared: never handed over
        else:
            groups[(row.channel, row.to_address)].append(row)
    if groups:
        with ThreadPoolExecutor(min(_LISTINGS, len(groups))) as pool:
            for found in pool.map(lambda key: _ask(ctx, key[0], groups[key], stopping), groups):
                answers.update(found)
    return answers


def _ask(
    ctx: DispatchContext, channel: str, rows: list[Any], stopping: Callable[[], bool]
) -> dict[int, Answer]:
    if stopping():
        return {row.id: _NO_ANSWER for row in rows}
    try:
        adapter = ctx.adapter(channel)
    except Exception:
        log.warning(kv("reconcile.no_adapter", channel=channel), exc_info=True)
        return {row.id: _NO_ANSWER for row in rows}
    if not _can_find_sent(adapter, channel):
        return {row.id: _CANNOT_TELL for row in rows}
    try:
        return _find(adapter, rows)
    except DeliveryError as exc:  # provider unreachable: ask again next round
        log.warning(kv("reconcile.ask_failed", channel=channel, rows=len(rows), reason=exc.reason))
        return {row.id: _NO_ANSWER for row in rows}


def _find(adapter: ChannelAdapter, rows: list[Any]) -> dict[int, Answer]:
    """One listing for all the rows to one recipient when the adapter can; else one each."""
    since = min(row.call_started_at for row in rows)
    many = getattr(adapter, "find_sent_many", None)
    if many is not None:
        wanted = {row.id: row.body for row in rows}
        found = many(to=rows[0].to_address, since=since, wanted=wanted)
        return {row.id: found.get(row.id) for row in rows}
    return {
        row.id: adapter.find_sent(
            to=row.to_address, since=row.call_started_at, body=row.body, message_id=row.id
        )
        for row in rows
    }


def _can_find_sent(adapter: object, channel: str) -> bool:
    """Adapters say so with `can_find_sent`; without it, only SMS providers (which list
    what they sent) and the in-process console can answer. SMTP cannot: a None from it
    means "cannot tell", not "not sent"."""
    default = Channel(channel) == Channel.SMS or getattr(adapter, "name", "") == "console"
    return bool(getattr(adapter, "can_find_sent", default))


def _settle_all(
    ctx: DispatchContext,
    rows: list[Any],
    answers: dict[int, Answer],
    *,
    now: datetime,
    report: ReconcileReport,
) -> None:
    """One transaction: each row still in the very call we asked about gets its answer."""
    asked = {row.id: row for row in rows if answers.get(row.id) != _NO_ANSWER}
    if not asked:
        return
    with session_scope(ctx.engine) as session:
        query = select(Message).where(one_of(session, col(Message.id), asked))
        locked: list[Any] = list(session.exec(query.order_by(col(Message.id)).with_for_update()))
        for message in locked:
            snapshot = asked[message.id]
            same_call = (message.claim_count, message.call_started_at) == (
                snapshot.claim_count, snapshot.call_started_at)  # fmt: skip
            if message.status == MessageStatus.SENDING and same_call:
                _decide(ctx, session, message, answers[message.id], now=now, report=report)


def _decide(
    ctx: DispatchContext,
    session: Session,
    message: Message,
    answer: Answer,
    *,
    now: datetime,
    report: ReconcileReport,
) -> None:
    assert message.id is not None and message.call_started_at is not None
    if isinstance(answer, Receipt) and not _taken(session, answer, message):
        outcome.record_sent(
            session, message, answer, now=now, reason="reconciled: the provider has it"
        )
        report.found.append(message.id)
        return
    if answer == _CANNOT_TELL:
        transition(session, message, MessageStatus.REVIEW, reason=REVIEW_REASON, now=now)
        report.review.append(message.id)
        return
    horizon = ctx.options.call_horizon(ctx.settings, Channel(message.channel))
    if now < message.call_started_at + horizon + ctx.options.provider_window:
        report.waiting.append(message.id)  # the provider's listing may lag behind
        return
    patient = session.get(Patient, message.patient_id) if message.patient_id else None
    # Still claimed: its worker stopped mid-call (no answer came), so the provider was not
    # at fault and the text goes again at once, in its place. After a 5xx or a timeout
    # (the claim was given up), the policy's backoff spares a struggling provider.
    orphaned = message.claimed_by is not None
    reason = "in doubt; the provider has no record of it"
    outcome.retry(session, message, reason=reason, patient=patient, policy=ctx.retry_policy,
                  now=now, at_once=orphaned)  # fmt: skip
    report.retried.append(message.id)


def _taken(session: Session, receipt: Receipt, message: Message) -> bool:
    """A provider id already on another row is that row's send, not this one's."""
    query = select(Message.id).where(Message.provider_id == receipt.provider_id)
    owner = session.exec(query).first()
    return owner is not None and owner != message.id
