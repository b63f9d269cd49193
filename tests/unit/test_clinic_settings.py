"""What a settings change brings up to date (service.clinic_settings): open alerts wait
the new acknowledgement window, unread replies are due by the new response time, unsent
messages leave the new quiet hours; people paged by one channel only; clinic admins."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from service import accounts, user_admin
from service.alerts import open_alert
from service.alerts.pages import page_task, page_urgent
from service.clinic_settings import change_settings
from service.clinics import ClinicChanges, ClinicError, parse_oncall
from service.db.models import InboundMessage, Message
from service.domain import AlertSeverity, MessageKind, MessageStatus, Priority, Role
from service.inbox import enter
from service.outbox import queue_message


def change(session, clinic, now, **values):  # type: ignore[no-untyped-def]
    result = change_settings(session, clinic, ClinicChanges(**values), actor="user:1", now=now,
                             daily_cap=3)  # fmt: skip
    session.commit()
    return result


def test_open_urgent_alerts_wait_the_new_acknowledgement_window(session, factory, now) -> None:
    clinic = factory.clinic()
    waiting = open_alert(session, clinic=clinic, severity=AlertSeverity.URGENT, now=now,
                         kind="triage_urgent", summary="x")  # fmt: skip
    session.commit()
    assert waiting.next_escalation_at == now + timedelta(minutes=15)
    result = change(session, clinic, now, alert_ack_minutes=5)
    assert result.alerts_retimed == 1
    assert waiting.next_escalation_at == now + timedelta(minutes=5)


def test_unread_replies_are_due_by_the_new_response_time(session, factory, now) -> None:
    clinic = factory.clinic(timezone="UTC")  # 15:00 local: inside the reply day
    inbound = InboundMessage(provider_id="SM1", channel="sms", clinic_id=clinic.id, body="worse",
                             from_address="+14155550123", received_at=now)  # fmt: skip
    session.add(inbound)
    session.flush()
    item = enter(session, inbound=inbound, clinic=clinic, label="concern", now=now)
    session.commit()
    assert item.due_at == now + timedelta(minutes=240)
    assert change(session, clinic, now, reply_response_minutes=60).replies_retimed == 1
    assert item.due_at == now + timedelta(minutes=60)


def test_a_catch_up_waiting_in_the_new_night_is_moved_to_its_end(session, factory, now) -> None:
    clinic = factory.clinic(timezone="UTC")
    patient = factory.patient(clinic, timezone="UTC", sms_consent_at=now)
    evening = now.replace(hour=20, minute=30)  # outside the default night (21:00-08:00)
    catch_up = queue_message(session, clinic_id=clinic.id, channel="sms", body="catch-up",
                             patient_id=patient.id, kind=MessageKind.CATCH_UP,
                             priority=Priority.SAFETY, due_at=evening, dedupe_key="cu",
                             reason="test")  # fmt: skip
    session.commit()
    result = change(session, clinic, now, night_start=time(20, 0))  # 20:00-08:00 now
    assert result.replanned is not None and result.replanned.others_moved == 1
    assert catch_up.next_attempt_at == (now + timedelta(days=1)).replace(hour=8, minute=0)
    assert catch_up.status == MessageStatus.SCHEDULED and catch_up.due_at.hour == 20


def test_someone_paged_by_text_only_gets_no_email(session, factory, now, composer) -> None:
    clinic = factory.clinic()
    accounts.add_oncall(session, clinic=clinic, name="Dr Text", phone="+14155550111",
                        email="text@clinic.test", page_by="sms")  # fmt: skip
    alert = open_alert(session, clinic=clinic, severity=AlertSeverity.URGENT, now=now,
                       kind="triage_urgent", summary="x")  # fmt: skip
    pages = page_urgent(session, composer=composer, alert=alert, clinic=clinic, now=now)
    assert [(p.channel, p.to_address) for p in pages] == [("sms", "+14155550111")]
    other = open_alert(session, clinic=clinic, severity=AlertSeverity.TASK, now=now,
                       kind="callback", summary="x")  # fmt: skip
    task = page_task(session, composer=composer, alert=other, clinic=clinic, task="call",
                     now=now)  # fmt: skip
    assert task is not None and task.channel == "sms"


def test_the_cli_form_names_the_channel_and_checks_it_has_an_address() -> None:
    assert parse_oncall("Dr Ray,,ray@clinic.test,email", region="US").page_by == "email"
    assert parse_oncall("Dr Ray,(415) 555-0111,,", region="US").page_by == "both"
    with pytest.raises(ClinicError, match="paged by text, so a mobile phone is needed"):
        parse_oncall("Dr Ray,,ray@clinic.test,sms", region="US")


def test_a_swapped_window_is_refused_and_an_untouched_one_is_not_checked(
    session, factory, now
) -> None:
    clinic = factory.clinic(quiet_start=time(0), quiet_end=time(0))  # created without quiet hours
    with pytest.raises(ClinicError) as caught:
        change(session, clinic, now, quiet_start=time(8), quiet_end=time(20))
    assert caught.value.field == "quiet_start" and "swapped" in caught.value.message
    session.rollback()
    assert change(session, clinic, now, name="Renamed").changed == ["name"]


def test_clinic_admins_belong_to_a_clinic(session, factory, now) -> None:
    clinic = factory.clinic()
    with pytest.raises(accounts.AccountError, match="clinic: clinic_admin users belong"):
        accounts.create_user(session, email="boss@x.test", role=Role.CLINIC_ADMIN, clinic_id=None)
    user = factory.user(clinic)
    user_admin.set_role(session, user, role=Role.CLINIC_ADMIN, clinic_id=clinic.id, actor="cli",
                        now=now)  # fmt: skip
    assert (user.role, user.clinic_id) == (Role.CLINIC_ADMIN, clinic.id)


def test_sent_rows_are_left_as_they_were(session, factory, now) -> None:
    clinic = factory.clinic()
    patient = factory.patient(clinic, sms_consent_at=now, email_consent_at=now)
    enrollment = factory.enrol(clinic, patient, procedure_at=now - timedelta(hours=3), now=now)
    rows = session.exec(select(Message).where(Message.enrollment_id == enrollment.id)).all()
    sent = next(r for r in rows if r.status == MessageStatus.SCHEDULED)
    sent.status, sent.sent_at = MessageStatus.SENT.value, now
    before = (sent.due_at, sent.next_attempt_at, sent.status_reason)
    session.commit()
    change(session, clinic, now, quiet_start=time(17, 0))
    session.refresh(sent)
    assert (sent.due_at, sent.next_attempt_at, sent.status_reason) == before
    tz = ZoneInfo(patient.timezone)
    for row in session.exec(select(Message).where(Message.enrollment_id == enrollment.id)):
        if row.status == MessageStatus.SCHEDULED and row.priority == Priority.ROUTINE:
            assert time(8) <= row.next_attempt_at.astimezone(tz).time() < time(17)
