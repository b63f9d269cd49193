"""Replies nobody read in time: a task per reply and one page per clinic per round.

An unread reply past its `due_at` opens a task alert (kind `reply_overdue`, linked to the
reply) and the clinic's first on-call is paged by SMS and email, as for an alert, with
how many replies wait - never who wrote them or what. Handling the reply resolves its
task. Rows are locked with SKIP LOCKED on PostgreSQL so two workers never report twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from service.alerts import open_alert
from service.alerts.pages import page_overdue
from service.composer import Composer
from service.db.models import Clinic, ReplyItem
from service.domain import AlertSeverity
from service.logs import kv

log = logging.getLogger(__name__)
KIND = "reply_overdue"


def report_overdue(
    session: Session, *, now: datetime, composer: Composer, limit: int = 200
) -> list[int]:
    """Open a task for every unread reply past its response time and page each clinic
    once; returns the items reported."""
    due = session.exec(
        select(ReplyItem)
        .where(
            col(ReplyItem.handled_at).is_(None),
            col(ReplyItem.overdue_alert_id).is_(None),
            col(ReplyItem.due_at) <= now,
        )
        .order_by(col(ReplyItem.due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    by_clinic: dict[int, list[ReplyItem]] = defaultdict(list)
    for item in due:
        by_clinic[item.clinic_id].append(item)
    for clinic_id, items in by_clinic.items():
        clinic = session.get(Clinic, clinic_id)
        assert clinic is not None  # foreign key
        _report(session, clinic, items, composer=composer, now=now)
    return [item.id for item in due if item.id is not None]


def _report(
    session: Session, clinic: Clinic, items: list[ReplyItem], *, composer: Composer, now: datetime
) -> None:
    tasks = []
    for item in items:
        received = item.received_at.astimezone(ZoneInfo(clinic.timezone))
        summary = f"Reply from {received:%d %b %H:%M} unread past the clinic's response time"
        tasks.append(open_alert(session, clinic=clinic, severity=AlertSeverity.TASK, kind=KIND,
                                summary=summary, now=now, patient_id=item.patient_id,
                                inbound_id=item.inbound_id))  # fmt: skip
        item.overdue_alert_id = tasks[-1].id
        session.add(item)
    page_overdue(session, composer=composer, alert=tasks[0], clinic=clinic, count=len(items),
                 now=now)  # fmt: skip
    log.warning(kv("inbox.overdue", clinic_id=clinic.id, count=len(items)))
