"""An enrolment's record: what was sent and delivered, what the patient replied, who acted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from service.db.models import (
    Alert,
    AuditLog,
    Clinic,
    Enrollment,
    InboundMessage,
    Message,
    MessageEvent,
    Patient,
    ReplyItem,
)
from service.plans.model import Plan, PlanError
from service.plans.store import load_pinned
from service.web.patient_data import events_for
from service.web.people import names_for
from service.web.timeline_text import day_label, message_title


@dataclass(frozen=True)
class Entry:
    """One line of the record, in time order (the CSV export is these rows)."""

    at: datetime
    kind: str  # message | event | reply | alert | action
    ref: str
    what: str
    status: str
    detail: str
    by: str
    text: str = ""  # what a message said (as sent) or a reply said


@dataclass
class Record:
    enrollment: Enrollment
    patient: Patient
    clinic: Clinic
    messages: list[tuple[Message, list[MessageEvent]]]
    replies: list[InboundMessage]
    alerts: list[Alert]
    actions: list[AuditLog]
    people: dict[str, str]
    titles: dict[int, str] = field(default_factory=dict)  # message id -> human title
    handled: dict[int, ReplyItem] = field(default_factory=dict)  # inbound id -> inbox item

    def who(self, label: str | None) -> str:
        return self.people.get(label or "", label or "")


def enrollment_record(session: Session, enrollment: Enrollment) -> Record:
    patient = session.get(Patient, enrollment.patient_id)
    clinic = session.get(Clinic, enrollment.clinic_id)
    assert patient is not None and clinic is not None  # foreign keys
    messages = list(
        session.exec(
            select(Message)
            .where(Message.enrollment_id == enrollment.id)
            .order_by(col(Message.due_at), col(Message.id))
        )
    )
    events = events_for(session, [m.id for m in messages if m.id is not None])
    replies = _replies(session, enrollment)
    alerts = _alerts(session, enrollment)
    actions = _actions(session, enrollment, alerts)
    handled = _handled(session, replies, clinic)
    labels = [a.actor for a in actions] + [e.actor for evs in events.values() for e in evs]
    labels += [a.acknowledged_by for a in alerts] + [a.resolved_by for a in alerts]
    labels += [item.handled_by for item in handled.values()]
    pairs = [(m, events.get(m.id or 0, [])) for m in messages]
    return Record(
        enrollment, patient, clinic, pairs, replies, alerts, actions, names_for(session, labels),
        titles=_titles(session, enrollment, patient, messages), handled=handled,
    )  # fmt: skip


def _titles(
    session: Session, enrollment: Enrollment, patient: Patient, messages: list[Message]
) -> dict[int, str]:
    try:
        plan: Plan | None = load_pinned(session, enrollment.plan_key, enrollment.plan_version)
    except PlanError:
        plan = None
    return {
        m.id: message_title(kind=m.kind, step_key=m.step_key, occurrence=m.occurrence,
                            channel=m.channel, plan=plan, context=m.context,
                            day=day_label(m.due_at, enrollment.procedure_at, patient.timezone))
        for m in messages if m.id is not None
    }  # fmt: skip


def _handled(
    session: Session, replies: list[InboundMessage], clinic: Clinic
) -> dict[int, ReplyItem]:
    ids = [r.id for r in replies if r.id is not None]
    if not ids:
        return {}
    stmt = select(ReplyItem).where(
        col(ReplyItem.inbound_id).in_(ids),
        ReplyItem.clinic_id == clinic.id,
        col(ReplyItem.handled_at).is_not(None),
    )
    return {item.inbound_id: item for item in session.exec(stmt)}


def _replies(session: Session, enrollment: Enrollment) -> list[InboundMessage]:
    # Replies tied to this enrolment, and the patient's untied replies while it ran.
    stmt = select(InboundMessage).where(
        InboundMessage.patient_id == enrollment.patient_id,
        or_(
            col(InboundMessage.enrollment_id) == enrollment.id,
            and_(
                col(InboundMessage.enrollment_id).is_(None),
                col(InboundMessage.received_at) >= enrollment.created_at,
            ),
        ),
    )
    return list(session.exec(stmt.order_by(col(InboundMessage.received_at))))


def _alerts(session: Session, enrollment: Enrollment) -> list[Alert]:
    stmt = select(Alert).where(
        Alert.patient_id == enrollment.patient_id,
        or_(
            col(Alert.enrollment_id) == enrollment.id,
            and_(
                col(Alert.enrollment_id).is_(None),
                col(Alert.created_at) >= enrollment.created_at,
            ),
        ),
    )
    return list(session.exec(stmt.order_by(col(Alert.created_at))))


def _actions(session: Session, enrollment: Enrollment, alerts: list[Alert]) -> list[AuditLog]:
    alert_ids = [a.id for a in alerts if a.id is not None]
    stmt = select(AuditLog).where(
        or_(
            and_(
                col(AuditLog.entity_type) == "enrollment", col(AuditLog.entity_id) == enrollment.id
            ),
            and_(col(AuditLog.entity_type) == "alert", col(AuditLog.entity_id).in_(alert_ids)),
        )
    )
    return list(session.exec(stmt.order_by(col(AuditLog.at), col(AuditLog.id))))


def entries(record: Record) -> list[Entry]:
    rows: list[Entry] = []
    for m, events in record.messages:
        what = f"{m.channel} {record.titles.get(m.id or 0) or m.step_key or m.kind}"
        when = m.sent_at or m.due_at
        detail = m.error_text or m.status_reason or ""
        text = sent_text(m)
        rows.append(Entry(when, "message", f"message {m.id}", what, m.status, detail, "", text))
        for ev in events:
            text = ev.reason or ""
            rows.append(
                Entry(
                    ev.at,
                    "event",
                    f"message {m.id}",
                    what,
                    ev.to_status,
                    text,
                    record.who(ev.actor),
                )
            )
    for r in record.replies:
        matched = f" [matched: {', '.join(r.matches)}]" if r.matches else ""
        rows.append(
            Entry(
                r.received_at,
                "reply",
                f"reply {r.id}",
                r.channel,
                r.intent or "",
                r.body + matched,
                "patient",
                r.body,
            )
        )
        item = record.handled.get(r.id or 0)
        if item is not None and item.handled_at is not None:
            rows.append(Entry(item.handled_at, "action", f"reply {r.id}", "reply.handled", "",
                              item.handled_note or "", record.who(item.handled_by)))  # fmt: skip
    for a in record.alerts:
        rows.append(
            Entry(a.created_at, "alert", f"alert {a.id}", a.severity, a.status, a.summary, "")
        )
    for act in record.actions:
        rows.append(
            Entry(
                act.at,
                "action",
                f"{act.entity_type} {act.entity_id}",
                act.action,
                "",
                act.reason or "",
                record.who(act.actor),
            )
        )
    return sorted(rows, key=lambda e: e.at)


def sent_text(message: Message) -> str:
    """The words that went out (subject and text), for a message that left or was tried;
    empty for one never sent (its text is only fixed at send time)."""
    if message.body is None or (message.sent_at is None and message.status in _NOT_SENT):
        return ""
    return f"{message.subject}\n\n{message.body}" if message.subject else message.body


_NOT_SENT = ("scheduled", "cancelled", "skipped")
