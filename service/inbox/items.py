"""Inbox items: filing a reply, marking it handled, attributing it to one patient, listing."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from service import alerts
from service.audit import record_audit
from service.db.models import Alert, Clinic, InboundMessage, Patient, ReplyCandidate, ReplyItem
from service.domain import ActorType, AlertStatus
from service.inbox.due import ResponseTime, response_due
from service.logs import kv

log = logging.getLogger(__name__)

RANKS = {"urgent": 0, "concern": 1}  # everything else: 2
ReplyStatus = Literal["unread", "handled", "all"]


class InboxError(ValueError):
    """A change the inbox refuses; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ReplyView:
    """An inbox item with the reply itself and every patient it may be from."""

    item: ReplyItem
    inbound: InboundMessage
    patient_ids: list[int]


def rank_of(label: str) -> int:
    return RANKS.get(label, 2)


def response_rule(clinic: Clinic) -> ResponseTime:
    return ResponseTime(
        within=timedelta(minutes=clinic.reply_response_minutes),
        day_start=clinic.reply_day_start,
        day_end=clinic.reply_day_end,
        night_due=clinic.reply_night_due,
    )


def retime_unread(session: Session, *, clinic: Clinic) -> int:
    """The clinic's response time or time zone changed: every unread reply not yet
    reported late is due by the new rule, counted from when it came in. Returns how many."""
    waiting = session.exec(
        select(ReplyItem)
        .where(
            ReplyItem.clinic_id == clinic.id,
            col(ReplyItem.handled_at).is_(None),
            col(ReplyItem.overdue_alert_id).is_(None),
        )
        .order_by(col(ReplyItem.id))
        .with_for_update()  # the response-time job's round finishes first
    ).all()
    tz, rule = ZoneInfo(clinic.timezone), response_rule(clinic)
    for item in waiting:
        item.due_at = response_due(item.received_at, tz=tz, rule=rule)
        session.add(item)
    return len(waiting)


def enter(
    session: Session,
    *,
    inbound: InboundMessage,
    clinic: Clinic,
    label: str,
    now: datetime,
    patient: Patient | None = None,
    candidates: Iterable[int] = (),
    alert_id: int | None = None,
) -> ReplyItem:
    """File `inbound` in `clinic`'s inbox as unread, due by the clinic's response time."""
    item = ReplyItem(
        inbound_id=inbound.id,  # type: ignore[arg-type]
        clinic_id=clinic.id,  # type: ignore[arg-type]
        patient_id=patient.id if patient else None,
        channel=inbound.channel,
        label=label,
        rank=rank_of(label),
        received_at=now,
        due_at=response_due(now, tz=ZoneInfo(clinic.timezone), rule=response_rule(clinic)),
        alert_id=alert_id,
    )
    session.add(item)
    session.flush()
    everyone = set(candidates) | ({patient.id} if patient and patient.id else set())
    session.add_all(ReplyCandidate(reply_id=item.id, patient_id=pid) for pid in sorted(everyone))  # type: ignore[arg-type]
    log.info(kv("inbox.entered", reply_id=item.id, clinic_id=clinic.id, rank=item.rank,
                attributed=patient is not None, candidates=len(everyone)))  # fmt: skip
    return item


def mark_handled(
    session: Session, *, item: ReplyItem, actor: str, now: datetime, note: str | None = None
) -> ReplyItem:
    """A person has read the reply and dealt with it. Handling twice changes nothing;
    the task a late reply opened is resolved with it."""
    if item.handled_at is not None:
        return item
    item.handled_at, item.handled_by = now, actor
    item.handled_note = (note or "").strip()[:500] or None
    session.add(item)
    _resolve_overdue(session, item, actor=actor, now=now)
    _audit(session, item, "reply.handled", actor=actor, reason=item.handled_note)
    return item


def mark_patient_handled(
    session: Session, *, clinic_id: int, patient_id: int, actor: str, now: datetime, note: str
) -> int:
    """Every unread reply attributed to the patient, handled (staff answered them)."""
    unread = session.exec(
        select(ReplyItem).where(
            ReplyItem.clinic_id == clinic_id,
            ReplyItem.patient_id == patient_id,
            col(ReplyItem.handled_at).is_(None),
        )
    ).all()
    for item in unread:
        mark_handled(session, item=item, actor=actor, now=now, note=note)
    return len(unread)


def assign(
    session: Session, *, item: ReplyItem, patient_id: int, actor: str, now: datetime
) -> ReplyItem:
    """Attribute a reply to one patient: one of the candidates on its number, or (a
    number we did not know) any patient of the clinic. The alert it opened follows."""
    patient = session.get(Patient, patient_id)
    candidates = patient_ids_of(session, [item])[item.id or 0]
    if patient is None or patient.clinic_id != item.clinic_id:
        raise InboxError("patient_id", "no such patient in this reply's clinic")
    if candidates and patient_id not in candidates:
        raise InboxError("patient_id", "not one of the patients on the number this came from")
    previous = item.patient_id
    item.patient_id, item.assigned_at, item.assigned_by = patient_id, now, actor
    session.add(item)
    _attribute_inbound(session, item, patient_id)
    for alert_id in (item.alert_id, item.overdue_alert_id):
        alert = session.get(Alert, alert_id) if alert_id else None
        if alert is not None and alert.patient_id in (None, previous):
            alert.patient_id = patient_id
            session.add(alert)
    _audit(session, item, "reply.assign", actor=actor,
           detail={"patient_id": patient_id, "previous": previous})  # fmt: skip
    return item


def _attribute_inbound(session: Session, item: ReplyItem, patient_id: int) -> None:
    inbound = session.get(InboundMessage, item.inbound_id)
    if inbound is not None and inbound.clinic_id in (None, item.clinic_id):
        inbound.patient_id = patient_id
        session.add(inbound)


def patient_ids_of(session: Session, items: Sequence[ReplyItem]) -> dict[int, list[int]]:
    """Each item's possible patients, the attributed one first."""
    ids = [item.id for item in items if item.id is not None]
    found: dict[int, list[int]] = defaultdict(list)
    if ids:
        rows = session.exec(
            select(ReplyCandidate.reply_id, ReplyCandidate.patient_id)
            .where(col(ReplyCandidate.reply_id).in_(ids))
            .order_by(col(ReplyCandidate.patient_id))
        )
        for reply_id, patient_id in rows:
            found[reply_id].append(patient_id)
    result = {}
    for item in items:
        others = [pid for pid in found.get(item.id or 0, []) if pid != item.patient_id]
        result[item.id or 0] = ([item.patient_id] if item.patient_id else []) + others
    return result


def status_filter(status: ReplyStatus) -> ColumnElement[bool] | None:
    if status == "unread":
        return col(ReplyItem.handled_at).is_(None)
    if status == "handled":
        return col(ReplyItem.handled_at).is_not(None)
    return None


def list_replies(
    session: Session,
    *,
    clinic_id: int | None,
    status: ReplyStatus = "unread",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[ReplyView], int]:
    """The clinic's replies (every clinic's for `clinic_id=None`), most urgent and oldest
    first, and how many there are in all."""
    where: list[ColumnElement[bool]] = []
    if clinic_id is not None:
        where.append(col(ReplyItem.clinic_id) == clinic_id)
    wanted = status_filter(status)
    if wanted is not None:
        where.append(wanted)
    total = session.exec(select(func.count()).select_from(ReplyItem).where(*where)).one()
    rows = session.exec(
        select(ReplyItem, InboundMessage)
        .join(InboundMessage, col(InboundMessage.id) == col(ReplyItem.inbound_id))
        .where(*where)
        .order_by(col(ReplyItem.rank), col(ReplyItem.received_at), col(ReplyItem.id))
        .offset(offset)
        .limit(limit)
    ).all()
    patients = patient_ids_of(session, [item for item, _ in rows])
    views = [ReplyView(item, inbound, patients[item.id or 0]) for item, inbound in rows]
    return views, int(total)


def _resolve_overdue(session: Session, item: ReplyItem, *, actor: str, now: datetime) -> None:
    task = session.get(Alert, item.overdue_alert_id) if item.overdue_alert_id else None
    if task is not None and task.status != AlertStatus.RESOLVED:
        alerts.resolve(session, alert=task, actor=actor, now=now, note="reply handled")


def _audit(
    session: Session,
    item: ReplyItem,
    action: str,
    *,
    actor: str,
    reason: str | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    actor_type = ActorType.API_KEY if actor.startswith("api_key:") else ActorType.USER
    record_audit(session, actor_type=actor_type, actor=actor, action=action,
                 entity_type="reply", entity_id=item.id, clinic_id=item.clinic_id,
                 reason=reason, detail=detail or {"inbound_id": item.inbound_id})  # fmt: skip
