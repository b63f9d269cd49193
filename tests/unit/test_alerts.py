"""Alerts: acknowledgement, resolution, holds, and escalation with a frozen clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from service import accounts
from service.alerts import (
    AlertError,
    acknowledge,
    escalate_due,
    open_alert,
    patient_has_open_alert,
    resolve,
)
from service.alerts.pages import page_urgent
from service.composer import Composer
from service.config import Settings
from service.db.models import Alert, AuditLog, Clinic, Message, Patient
from service.domain import AlertSeverity, AlertStatus, MessageKind
from service.rendering import Renderer
from tests.factories import Factory


@pytest.fixture
def composer(settings: Settings) -> Composer:
    return Composer(renderer=Renderer(settings.templates_dir), base_url="https://care.test")


@pytest.fixture
def clinic(factory: Factory, session: Session) -> Clinic:
    clinic = factory.clinic(email_from="care@glow.test")
    clinic.alert_ack_minutes = 10
    for n in range(3):
        accounts.add_oncall(session, clinic=clinic, name=f"Dr {n}", phone=f"+1415555060{n}",
                            email=f"dr{n}@glow.test" if n == 0 else None)  # fmt: skip
    session.commit()
    return clinic


@pytest.fixture
def patient(factory: Factory, clinic: Clinic) -> Patient:
    return factory.patient(clinic, first_name="Ana")


def urgent(session: Session, clinic: Clinic, patient: Patient, now: datetime, composer) -> Alert:  # type: ignore[no-untyped-def]
    alert = open_alert(session, clinic=clinic, severity=AlertSeverity.URGENT, kind="triage_urgent",
                       summary="drooping", now=now, patient_id=patient.id)  # fmt: skip
    page_urgent(session, composer=composer, alert=alert, clinic=clinic, now=now)
    session.commit()
    return alert


def paged(session: Session) -> list[tuple[int, str]]:
    rows = session.exec(select(Message).where(Message.kind == MessageKind.PAGE)).all()
    return sorted((m.context["level"], m.to_address) for m in rows)  # type: ignore[index,misc]


def test_an_urgent_alert_is_due_for_escalation_after_the_clinics_ack_window(
    session: Session, clinic: Clinic, patient: Patient, now: datetime, composer: Composer
) -> None:
    alert = urgent(session, clinic, patient, now, composer)
    assert alert.next_escalation_at == now + timedelta(minutes=10)
    assert paged(session) == [(0, "+14155550600"), (0, "dr0@glow.test")]


def test_nothing_escalates_before_the_deadline(session, clinic, patient, now, composer) -> None:  # type: ignore[no-untyped-def]
    urgent(session, clinic, patient, now, composer)
    assert (
        escalate_due(session, now=now + timedelta(minutes=9, seconds=59), composer=composer) == []
    )


def test_an_unacknowledged_alert_repages_and_escalates_to_the_next_recipient(
    session: Session, clinic: Clinic, patient: Patient, now: datetime, composer: Composer
) -> None:
    alert = urgent(session, clinic, patient, now, composer)
    later = now + timedelta(minutes=10)
    assert escalate_due(session, now=later, composer=composer) == [alert.id]
    session.commit()
    assert alert.escalation_level == 1
    assert alert.next_escalation_at == later + timedelta(minutes=10)
    level_1 = [to for level, to in paged(session) if level == 1]
    assert sorted(level_1) == ["+14155550600", "+14155550601", "dr0@glow.test"]
    [entry] = session.exec(select(AuditLog).where(AuditLog.action == "alert.escalate")).all()
    assert entry.entity_id == alert.id and entry.detail["level"] == 1  # type: ignore[index]


def test_escalation_past_the_last_recipient_keeps_paging_everyone(
    session: Session, clinic: Clinic, patient: Patient, now: datetime, composer: Composer
) -> None:
    urgent(session, clinic, patient, now, composer)
    for step in range(1, 5):
        escalate_due(session, now=now + timedelta(minutes=10 * step), composer=composer)
        session.commit()
    level_4 = [to for level, to in paged(session) if level == 4]
    # three phones and one email, then the clinic's main number and address
    assert sorted(level_4) == ["+14155550100", "+14155550600", "+14155550601",
                               "+14155550602", "care@glow.test", "dr0@glow.test"]  # fmt: skip


def test_acknowledging_stops_escalation_and_is_audited(
    session: Session, clinic: Clinic, patient: Patient, now: datetime, composer: Composer
) -> None:
    alert = urgent(session, clinic, patient, now, composer)
    acknowledge(session, alert=alert, actor="user:7", now=now + timedelta(minutes=3))
    session.commit()
    assert (alert.status, alert.acknowledged_by) == (AlertStatus.ACKNOWLEDGED, "user:7")
    assert escalate_due(session, now=now + timedelta(hours=1), composer=composer) == []
    assert session.exec(select(AuditLog).where(AuditLog.action == "alert.acknowledge")).first()


def test_acknowledging_twice_changes_nothing(session, clinic, patient, now, composer) -> None:  # type: ignore[no-untyped-def]
    alert = urgent(session, clinic, patient, now, composer)
    acknowledge(session, alert=alert, actor="user:7", now=now)
    acknowledge(session, alert=alert, actor="user:8", now=now + timedelta(minutes=1))
    assert alert.acknowledged_by == "user:7"


def test_a_resolved_alert_cannot_be_acknowledged_or_resolved_again(
    session: Session, clinic: Clinic, patient: Patient, now: datetime, composer: Composer
) -> None:
    alert = urgent(session, clinic, patient, now, composer)
    resolve(session, alert=alert, actor="user:7", now=now, note="called, fine")
    assert alert.status == AlertStatus.RESOLVED and alert.acknowledged_at == now
    with pytest.raises(AlertError):
        acknowledge(session, alert=alert, actor="user:7", now=now)
    with pytest.raises(AlertError):
        resolve(session, alert=alert, actor="user:7", now=now)


def test_routine_messages_are_held_while_an_urgent_or_concern_alert_is_unresolved(
    session: Session, clinic: Clinic, patient: Patient, now: datetime, composer: Composer
) -> None:
    assert not patient_has_open_alert(session, patient.id)
    alert = urgent(session, clinic, patient, now, composer)
    assert patient_has_open_alert(session, patient.id)
    acknowledge(session, alert=alert, actor="user:1", now=now)
    assert patient_has_open_alert(session, patient.id)
    resolve(session, alert=alert, actor="user:1", now=now)
    assert not patient_has_open_alert(session, patient.id)
    open_alert(session, clinic=clinic, severity=AlertSeverity.CONCERN, kind="triage_concern",
               summary="redness", now=now, patient_id=patient.id)  # fmt: skip
    assert patient_has_open_alert(session, patient.id)


def test_tasks_do_not_hold_routine_messages(session, clinic, patient, now) -> None:  # type: ignore[no-untyped-def]
    open_alert(session, clinic=clinic, severity=AlertSeverity.TASK, kind="opt_out",
               summary="opted out", now=now, patient_id=patient.id)  # fmt: skip
    assert not patient_has_open_alert(session, patient.id)
    assert not patient_has_open_alert(session, None)


def test_a_clinic_without_on_call_recipients_is_paged_on_its_own_contacts(
    session: Session, factory: Factory, now: datetime, composer: Composer
) -> None:
    bare = factory.clinic(email_from="front@bare.test")
    patient = factory.patient(bare)
    urgent(session, bare, patient, now, composer)
    assert paged(session) == [(0, bare.contact_phone), (0, "front@bare.test")]
