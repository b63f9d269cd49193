"""Pages to the clinic's on-call staff, queued through the normal outbox.

An urgent page carries what the person on call needs at night without logging in: the
patient's first name and id, the number to call back, the procedure and the day since it
and the warning sign as the plan names it (`service.alerts.facts`) - never the reply
text; a clinic's `page_detail = "minimal"` reduces it to the callback number and a link.
Urgent pages have priority URGENT (quiet hours do not apply) and no validity limit: a
late page is still better than none.

Each person is paged by text, by email or by both (`page_by`, every address given).
Escalation level L pages the first L+1 recipients in position order: level 0 is the
first on-call, each escalation re-pages those already paged and adds the next one; past
the end of the list comes the clinic's main number. With one person on call, escalation
goes to the main number instead of paging the same person again. A clinic with no
on-call recipients is paged on its own contact number and email.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlmodel import Session, col, select

from service.alerts.facts import alert_facts
from service.composer import Composer
from service.db.models import (
    Alert,
    Clinic,
    Message,
    OnCallRecipient,
    Patient,
    ReplyCandidate,
    ReplyItem,
)
from service.domain import Channel, MessageKind, Priority
from service.logs import kv
from service.outbox import queue_message

log = logging.getLogger(__name__)


def recipients(session: Session, clinic: Clinic) -> list[OnCallRecipient]:
    rows = session.exec(
        select(OnCallRecipient)
        .where(OnCallRecipient.clinic_id == clinic.id)
        .order_by(OnCallRecipient.position)  # type: ignore[arg-type]
    ).all()
    if rows:
        return list(rows)
    log.warning(kv("page.no_oncall", clinic_id=clinic.id))
    return [_main_number(clinic)]


def _main_number(clinic: Clinic) -> OnCallRecipient:
    return OnCallRecipient(id=0, clinic_id=clinic.id or 0, name=clinic.name,
                           phone=clinic.contact_phone, email=clinic.email_from)  # fmt: skip


def addresses(person: OnCallRecipient) -> list[tuple[Channel, str | None]]:
    """Where a person is paged: by text, email or both (`page_by`), SMS listed first."""
    found = []
    if person.page_by in ("both", "sms"):
        found.append((Channel.SMS, person.phone))
    if person.page_by in ("both", "email"):
        found.append((Channel.EMAIL, person.email))
    return found


def escalation_targets(
    on_call: list[OnCallRecipient], level: int, clinic: Clinic
) -> list[OnCallRecipient]:
    """Who is paged at `level` (see the module docstring)."""
    main = _main_number(clinic)
    chain = list(on_call)
    if main.phone not in {person.phone for person in chain}:
        chain.append(main)
    if level >= 1 and len(on_call) == 1 and len(chain) == 2:
        return chain[1:]  # the one person did not answer: the clinic, not them again
    return chain[: level + 1]


def patient_label(session: Session, alert: Alert) -> str:
    """Who the page is about: "Ana (#12)", on a shared number nobody was attributed
    "shared number: Ana (#12) or Ben (#13)", else "(unknown number)"."""
    patient = session.get(Patient, alert.patient_id) if alert.patient_id else None
    if patient is not None:
        return f"{patient.first_name} (#{patient.id})"
    household = household_of(session, alert)
    if household:
        return "shared number: " + " or ".join(f"{p.first_name} (#{p.id})" for p in household)
    return "(unknown number)"


def household_of(session: Session, alert: Alert) -> list[Patient]:
    """Everyone on the number the alert's reply came from (its inbox item's candidates)."""
    if alert.inbound_id is None:
        return []
    query = (
        select(Patient)
        .join(ReplyCandidate, col(ReplyCandidate.patient_id) == col(Patient.id))
        .join(ReplyItem, col(ReplyItem.id) == col(ReplyCandidate.reply_id))
        .where(ReplyItem.inbound_id == alert.inbound_id, ReplyItem.clinic_id == alert.clinic_id)
        .order_by(col(Patient.id))
    )
    return list(session.exec(query))


def page_urgent(
    session: Session, *, composer: Composer, alert: Alert, clinic: Clinic, now: datetime
) -> list[Message]:
    """Page everyone up to the alert's escalation level, by SMS and email."""
    return _page_all(session, composer=composer, alert=alert, clinic=clinic, now=now,
                     name="page_urgent")  # fmt: skip


def page_overdue(
    session: Session, *, composer: Composer, alert: Alert, clinic: Clinic, count: int,
    now: datetime,
) -> list[Message]:  # fmt: skip
    """Tell the first on-call, by SMS and email as for an alert, that `count` replies are
    unread past the clinic's response time. No patient is named: the inbox has them."""
    return _page_all(session, composer=composer, alert=alert, clinic=clinic, now=now,
                     name="page_overdue", count=count,
                     inbox_link=composer.inbox_link())  # fmt: skip


def _page_all(
    session: Session, *, composer: Composer, alert: Alert, clinic: Clinic, now: datetime,
    name: str, **extra: object,
) -> list[Message]:  # fmt: skip
    on_call = escalation_targets(recipients(session, clinic), alert.escalation_level, clinic)
    label = patient_label(session, alert)
    pages = []
    for recipient in on_call:
        for channel, address in addresses(recipient):
            if address:
                pages.append(
                    _queue_page(session, composer=composer, alert=alert, clinic=clinic,
                                label=label, channel=channel, address=address,
                                recipient_id=recipient.id, recipient_name=recipient.name,
                                name=name, now=now, extra=extra)
                )  # fmt: skip
    return pages


def page_task(
    session: Session, *, composer: Composer, alert: Alert, clinic: Clinic, task: str, now: datetime
) -> Message | None:
    """Tell the first on-call about a follow-up task (opt-out, call-back), email first."""
    first = recipients(session, clinic)[0]
    usable = [(channel, address) for channel, address in addresses(first) if address]
    if not usable:
        return None
    channel, address = usable[-1]  # email first: a task is not urgent
    return _queue_page(session, composer=composer, alert=alert, clinic=clinic,
                       label=patient_label(session, alert),
                       channel=channel, address=address, recipient_id=first.id,
                       recipient_name=first.name, name="page_task", now=now,
                       task=task)  # fmt: skip


def _queue_page(
    session: Session,
    *,
    composer: Composer,
    alert: Alert,
    clinic: Clinic,
    label: str,
    channel: Channel,
    address: str,
    recipient_id: int | None,
    name: str,
    now: datetime,
    task: str = "",
    recipient_name: str = "",
    extra: Mapping[str, object] | None = None,
) -> Message:
    facts = alert_facts(session, alert, now=now, composer=composer)
    rendered = composer.renderer.render_system(
        name=name,
        channel=channel,
        language="en",
        context={
            "clinic_name": clinic.name,
            "patient_label": label,
            "alert_link": composer.alert_link(alert.id),
            "alert_id": alert.id,
            "escalation_level": alert.escalation_level,
            "task": task,
            "detail": clinic.page_detail,
            **facts.context(),
            **(extra or {}),
        },
    )
    urgent = name == "page_urgent"
    message = queue_message(
        session,
        clinic_id=clinic.id,  # type: ignore[arg-type]
        channel=channel,
        body=rendered.text,
        subject=rendered.subject,
        body_html=rendered.html,
        segments=rendered.segments,
        # Not linked to the patient: their opt-out and holds must never stop a page.
        patient_id=None,
        to_address=address,
        kind=MessageKind.PAGE,
        priority=Priority.URGENT if urgent else Priority.ROUTINE,
        due_at=now,
        dedupe_key=f"page:{alert.id}:{alert.escalation_level}:{recipient_id}:{channel.value}",
        reason=f"{name} for alert {alert.id} level {alert.escalation_level}",
    )
    message.context = {"alert_id": alert.id, "page": name, "level": alert.escalation_level,
                       "recipient": recipient_name}  # fmt: skip
    session.add(message)
    log.info(kv("page.queued", alert_id=alert.id, message_id=message.id, channel=channel.value))
    return message
