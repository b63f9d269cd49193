"""Builders shared by the dispatch unit and integration tests (DISPATCH's test helpers)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from service.channels.base import DeliveryError, OutboundMessage, Receipt
from service.db.models import Clinic, Enrollment, Message, Patient
from service.domain import Channel, MessageKind, MessageStatus, Priority
from service.plans.catalog import load_catalog
from service.plans.store import pin_plan


class ScriptedAdapter:
    """A channel adapter whose next outcomes the test scripts; records every call."""

    name = "scripted"

    def __init__(self, *, can_find_sent: bool = True) -> None:
        self.sent: list[OutboundMessage] = []
        self.outcomes: list[DeliveryError | None] = []
        self.found: dict[int, Receipt] = {}
        self.asked: list[int] = []  # message ids find_sent was asked about
        self.can_find_sent = can_find_sent
        self.lock = threading.Lock()

    def send(self, message: OutboundMessage) -> Receipt:
        with self.lock:
            self.sent.append(message)
            outcome = self.outcomes.pop(0) if self.outcomes else None
            n = len(self.sent)
        if outcome is not None:
            raise outcome
        return Receipt(provider=self.name, provider_id=f"SC{message.message_id}x{n}")

    def find_sent(self, *, to: str, since: datetime, body: str, message_id: int) -> Receipt | None:
        self.asked.append(message_id)
        return self.found.get(message_id)


def ad_hoc(
    session: Session,
    *,
    clinic: Clinic,
    patient: Patient | None,
    due_at: datetime,
    channel: Channel = Channel.SMS,
    kind: MessageKind = MessageKind.AUTO_REPLY,
    priority: Priority = Priority.URGENT,
    valid_until: datetime | None = None,
    body: str = "Your clinic got your message. In an emergency call 911.",
    key: str | None = None,
    to_address: str | None = None,
) -> Message:
    from service.outbox import queue_message

    message = queue_message(
        session,
        clinic_id=clinic.id,
        channel=channel,
        body=body,
        subject="From your clinic" if channel == Channel.EMAIL else None,
        kind=kind,
        priority=priority,
        due_at=due_at,
        valid_until=valid_until,
        dedupe_key=key or f"test:{due_at.isoformat()}:{body}:{patient.id if patient else 0}",
        patient_id=patient.id if patient else None,
        to_address=to_address,
    )
    session.commit()
    return message


def enrolled(
    session: Session,
    *,
    clinic: Clinic,
    patient: Patient,
    procedure_at: datetime,
    plan: str = "botox",
) -> Enrollment:
    from service.config import DEFAULT_TEMPLATES_DIR

    pinned = pin_plan(session, load_catalog(DEFAULT_TEMPLATES_DIR).get(plan))
    enrollment = Enrollment(
        clinic_id=clinic.id,
        patient_id=patient.id,
        plan_key=pinned.key,
        plan_version=pinned.version,
        procedure_at=procedure_at,
    )
    session.add(enrollment)
    session.commit()
    return enrollment


def plan_row(
    session: Session,
    *,
    enrollment: Enrollment,
    step: str,
    due_at: datetime,
    channel: Channel = Channel.SMS,
    priority: Priority = Priority.ROUTINE,
    fallback: Channel | None = None,
    valid_for: timedelta = timedelta(days=1),
) -> Message:
    message = Message(
        dedupe_key=f"enr:{enrollment.id}:{step}:0:{channel}",
        clinic_id=enrollment.clinic_id,
        patient_id=enrollment.patient_id,
        enrollment_id=enrollment.id,
        kind=MessageKind.PLAN,
        step_key=step,
        channel=channel,
        fallback_channel=fallback,
        priority=priority,
        due_at=due_at,
        next_attempt_at=due_at,
        valid_until=due_at + valid_for,
        status=MessageStatus.SCHEDULED,
    )
    session.add(message)
    session.commit()
    return message


def consenting(factory: Any, clinic: Clinic, **overrides: object) -> Patient:
    """A patient who gave SMS and email consent (as staff record at enrolment)."""
    consent = datetime(2026, 1, 1, tzinfo=UTC)
    values: dict[str, object] = {"sms_consent_at": consent, "email_consent_at": consent}
    values.update(overrides)
    patient: Patient = factory.patient(clinic, **values)
    return patient


def seed_plan_messages(
    session: Session,
    *,
    clinic: Clinic,
    count: int,
    due_at: datetime,
    step: str = "day1_care",
    phone_base: int = 14_155_000_000,
) -> list[str]:
    """`count` consenting patients, each enrolled with one due plan SMS. Returns phones."""
    from service.config import DEFAULT_TEMPLATES_DIR

    pinned = pin_plan(session, load_catalog(DEFAULT_TEMPLATES_DIR).get("botox"))
    consent = due_at - timedelta(days=2)
    phones = [f"+{phone_base + i}" for i in range(count)]
    patients = [
        Patient(
            clinic_id=clinic.id,
            first_name=f"P{i}",
            phone=phone,
            timezone="UTC",
            sms_consent_at=consent,
            email_consent_at=consent,
        )
        for i, phone in enumerate(phones)
    ]
    session.add_all(patients)
    session.flush()
    enrollments = [
        Enrollment(
            clinic_id=clinic.id,
            patient_id=p.id,
            plan_key=pinned.key,
            plan_version=pinned.version,
            procedure_at=due_at - timedelta(days=1),
        )
        for p in patients
    ]
    session.add_all(enrollments)
    session.flush()
    session.add_all(
        Message(
            dedupe_key=f"enr:{e.id}:{step}:0:sms",
            clinic_id=clinic.id,
            patient_id=e.patient_id,
            enrollment_id=e.id,
            kind=MessageKind.PLAN,
            step_key=step,
            channel=Channel.SMS,
            due_at=due_at,
            next_attempt_at=due_at,
            valid_until=due_at + timedelta(hours=6),
        )
        for e in enrollments
    )
    session.commit()
    return phones


def status_counts(session: Session) -> dict[str, int]:
    from sqlalchemy import func
    from sqlmodel import select

    rows = session.exec(select(Message.status, func.count()).group_by(Message.status)).all()
    return {status: n for status, n in rows}
