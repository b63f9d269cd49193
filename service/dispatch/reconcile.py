"""Rows left in `sending`: settle each against the provider, never by a blind resend.

A row is in doubt when a worker died between claim and commit, or the provider answered
5xx or not at all. Once its claim is older than the grace (no call for it can still be
running), the adapter is asked whether it has the message: found -> sent with its id;
not found once the provider's listing window has passed as well -> scheduled again per
the retry policy; the adapter cannot tell (email) -> the review queue, for a person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from service.channels.base import DeliveryError, Receipt
from service.db.engine import session_scope
from service.db.models import Message, Patient
from service.dispatch import outcome
from service.dispatch.claim import lock_message
from service.dispatch.context import DispatchContext
from service.domain import Channel, MessageStatus
from service.logs import kv
from service.outbox import transition

log = logging.getLogger(__name__)
REVIEW_REASON = "in doubt: the provider cannot say whether it was sent; a person decides"


class _CannotTell(Exception):
    pass


@dataclass
class ReconcileReport:
    found: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    review: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)


def reconcile_in_doubt(ctx: DispatchContext, *, now: datetime) -> ReconcileReport:
    report = ReconcileReport()
    for snapshot in _stale(ctx, now=now):
        _settle(ctx, snapshot, now=now, report=report)
    if report.found or report.retried or report.review:
        log.info(
            kv(
                "reconcile.done",
                found=len(report.found),
                retried=len(report.retried),
                review=len(report.review),
                waiting=len(report.waiting),
            )
        )
    return report


def _stale(ctx: DispatchContext, *, now: datetime) -> list[Message]:
    cutoff = now - ctx.options.reconcile_grace(ctx.settings)
    query = (
        select(Message)
        .where(Message.status == MessageStatus.SENDING, col(Message.claimed_at) < cutoff)
        .order_by(col(Message.claimed_at))
        .limit(ctx.options.reconcile_batch)
    )
    with session_scope(ctx.engine) as session:
        return list(session.exec(query).all())


def _settle(
    ctx: DispatchContext, snapshot: Message, *, now: datetime, report: ReconcileReport
) -> None:
    try:
        receipt = _ask_provider(ctx, snapshot)
    except _CannotTell:
        receipt, cannot_tell = None, True
    except DeliveryError as exc:  # provider unreachable: ask again next round
        log.warning(kv("reconcile.ask_failed", message_id=snapshot.id, reason=exc.reason))
        return
    else:
        cannot_tell = False
    with session_scope(ctx.engine) as session:
        message = lock_message(session, snapshot.id)  # type: ignore[arg-type]
        if message is None or message.status != MessageStatus.SENDING:
            return
        if message.attempts != snapshot.attempts:
            return  # claimed again meanwhile: not the attempt we asked about
        _decide(ctx, session, message, receipt, cannot_tell, now=now, report=report)


def _ask_provider(ctx: DispatchContext, message: Message) -> Receipt | None:
    if message.body is None or message.to_address is None or message.claimed_at is None:
        return None  # never prepared, so never handed to the provider
    adapter = ctx.adapter(message.channel)
    if not _can_find_sent(adapter, message.channel):
        raise _CannotTell
    return adapter.find_sent(
        to=message.to_address,
        since=message.claimed_at,
        body=message.body,
        message_id=message.id,  # type: ignore[arg-type]
    )


def _can_find_sent(adapter: object, channel: str) -> bool:
    """Adapters say so with `can_find_sent`; without it, only SMS providers (which list
    what they sent) and the in-process console can answer. SMTP cannot: a None from it
    means "cannot tell", not "not sent"."""
    default = Channel(channel) == Channel.SMS or getattr(adapter, "name", "") == "console"
    return bool(getattr(adapter, "can_find_sent", default))


def _decide(
    ctx: DispatchContext,
    session: Session,
    message: Message,
    receipt: Receipt | None,
    cannot_tell: bool,
    *,
    now: datetime,
    report: ReconcileReport,
) -> None:
    if receipt is not None and not _taken(session, receipt, message):
        outcome.record_sent(
            session, message, receipt, now=now, reason="reconciled: the provider has it"
        )
        report.found.append(message.id)  # type: ignore[arg-type]
        return
    if cannot_tell:
        transition(session, message, MessageStatus.REVIEW, reason=REVIEW_REASON, now=now)
        report.review.append(message.id)  # type: ignore[arg-type]
        return
    assert message.claimed_at is not None
    settled_by = message.claimed_at + ctx.options.reconcile_grace(ctx.settings)
    if now < settled_by + ctx.options.provider_window:
        report.waiting.append(message.id)  # type: ignore[arg-type]
        return
    patient = session.get(Patient, message.patient_id) if message.patient_id else None
    outcome.retry(
        session,
        message,
        reason="in doubt; the provider has no record of it",
        patient=patient,
        policy=ctx.retry_policy,
        now=now,
    )
    report.retried.append(message.id)  # type: ignore[arg-type]


def _taken(session: Session, receipt: Receipt, message: Message) -> bool:
    """A provider id already on another row is that row's send, not this one's."""
    query = select(Message.id).where(Message.provider_id == receipt.provider_id)
    owner = session.exec(query).first()
    return owner is not None and owner != message.id
