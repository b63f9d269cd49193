"""STOP keeps the patient safe and START resumes: what each leaves behind."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from service import accounts
from service.composer import Composer
from service.config import Settings
from service.db.models import Alert, Clinic, Enrollment, Message, Patient
from service.domain import Channel, EnrollmentStatus, MessageKind
from service.enrollment import cancel
from service.inbound.handle import handle_reply
from service.inbound.reply import InboundReply
from service.rendering import Renderer
from tests.factories import Factory

CLINIC_NUMBER = "+14155550999"
PHONE = "+14155550123"
SAFETY_STEPS = {"red_flag_reminder", None}  # None: the catch-up


@pytest.fixture
def composer(settings: Settings) -> Composer:
    return Composer(renderer=Renderer(settings.templates_dir), base_url="https://care.test")


@pytest.fixture
def clinic(factory: Factory, session: Session) -> Clinic:
    clinic = factory.clinic(sms_from=CLINIC_NUMBER)
    accounts.add_oncall(session, clinic=clinic, name="Dr A", phone=None, email="a@glow.example")
    session.commit()
    return clinic


def enrolled(session: Session, factory: Factory, clinic: Clinic, now: datetime, **patient):  # type: ignore[no-untyped-def]
    values = {
        "phone": PHONE,
        "sms_consent_at": now - timedelta(days=3),
        "email_consent_at": now - timedelta(days=3),
    }
    values.update(patient)
    person = factory.patient(clinic, **values)
    enrollment = factory.enrol(clinic, person, procedure_at=now - timedelta(days=2), now=now)
    return person, enrollment


def text_in(session: Session, composer: Composer, body: str, now: datetime, n: int = 1) -> None:
    reply = InboundReply(
        provider_id=f"SM{n:032d}",
        channel=Channel.SMS,
        from_address=PHONE,
        to_address=CLINIC_NUMBER,
        body=body,
        text=body,
    )
    handle_reply(session, reply=reply, composer=composer, now=now)
    session.commit()


def messages(session: Session, **where: object) -> list[Message]:
    query = select(Message).order_by(col(Message.id))
    for name, value in where.items():
        query = query.where(getattr(Message, name) == value)
    return list(session.exec(query))


def the_reply(session: Session, name: str) -> Message:
    [reply] = [
        m
        for m in messages(session, kind=MessageKind.AUTO_REPLY)
        if (m.context or {}).get("compliance") == name
    ]
    return reply


def tasks(session: Session, kind: str) -> list[Alert]:
    return list(session.exec(select(Alert).where(Alert.kind == kind)))


def test_after_stop_safety_messages_and_email_fallback_steps_go_on_by_email(
    session, factory, clinic, composer, now
) -> None:
    _patient, enrollment = enrolled(session, factory, clinic, now)
    pending = {
        (m.step_key, m.occurrence) for m in messages(session, channel="sms", status="scheduled")
    }
    text_in(session, composer, "STOP", now)

    texts = [m for m in messages(session, channel="sms") if m.kind != MessageKind.AUTO_REPLY]
    assert {m.status for m in texts if (m.step_key, m.occurrence) in pending} == {"cancelled"}
    assert all(
        m.status_reason == "texts stopped: patient replied STOP"
        for m in texts
        if m.status == "cancelled"
    )
    copies = messages(session, kind=MessageKind.FALLBACK, channel="email")
    assert {m.step_key for m in copies} == {"red_flag_reminder", "week2_checkin", None}
    assert all(m.status == "scheduled" and m.dedupe_key.startswith("by-email:") for m in copies)
    session.refresh(enrollment)
    assert enrollment.status == EnrollmentStatus.ACTIVE  # the plan goes on by email
    confirmation = the_reply(session, "stop_confirmation")
    assert "Red-flag reminders will still come by email." in (confirmation.body or "")
    [task] = tasks(session, "opt_out")
    assert "4 red-flag reminder(s) and safety message(s) will go by email" in task.summary


def test_after_stop_without_email_the_clinic_is_told_no_red_flags_will_reach_the_patient(
    session, factory, clinic, composer, now
) -> None:
    _, enrollment = enrolled(session, factory, clinic, now, email=None, email_consent_at=None)
    text_in(session, composer, "STOP", now)
    assert messages(session, kind=MessageKind.FALLBACK) == []
    session.refresh(enrollment)
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert "Red-flag" not in (the_reply(session, "stop_confirmation").body or "")
    [task] = tasks(session, "opt_out")
    assert "cannot get email: 4 red-flag reminder(s)" in task.summary
    assert "will not reach them" in task.summary


def test_start_plans_the_stopped_texts_again_from_now_and_says_what_comes_next(
    session, factory, clinic, composer, now
) -> None:
    patient, _enrollment = enrolled(session, factory, clinic, now)
    text_in(session, composer, "STOP", now)
    later = now + timedelta(days=3)  # day 5, 10:00 in New York: day3_effect is stale now
    text_in(session, composer, "START", later, n=2)

    session.refresh(patient)
    assert patient.sms_opted_out_at is None
    fresh = [
        m
        for m in messages(session, kind=MessageKind.PLAN, channel="sms")
        if m.status == "scheduled"
    ]
    assert {m.step_key for m in fresh} == {"red_flag_reminder", "week2_checkin", "month3_checkin"}
    assert all(m.dedupe_key.endswith(":r1") and m.next_attempt_at >= later for m in fresh)
    stale = [m for m in messages(session, step_key="day3_effect", channel="sms")]
    assert [m.status for m in stale] == ["cancelled"]  # never sent late
    copies = messages(session, kind=MessageKind.FALLBACK, channel="email")
    assert copies and {m.status for m in copies if m.step_key} == {"cancelled"}
    body = the_reply(session, "start_confirmation").body or ""
    assert (
        "you will get aftercare messages again. "
        "The next one is due on March 5, with 4 more after it." in body
    )
    assert tasks(session, "wants_texts") == []


def test_start_after_staff_cancelled_the_plan_promises_no_texts_and_asks_staff(
    session, factory, clinic, composer, now
) -> None:
    _, enrollment = enrolled(session, factory, clinic, now)
    text_in(session, composer, "STOP", now)
    cancel(session, enrollment=enrollment, now=now, actor="user:1", reason="moved clinic")
    session.commit()
    text_in(session, composer, "START", now + timedelta(hours=1), n=2)
    body = the_reply(session, "start_confirmation").body or ""
    assert "Your aftercare plan was stopped, so none are planned" in body
    assert "next one" not in body
    [task] = tasks(session, "wants_texts")
    assert "plan is cancelled: resume it if right" in task.summary
    assert session.get(Enrollment, enrollment.id).status == EnrollmentStatus.CANCELLED  # type: ignore[union-attr]
    pages = [
        m
        for m in messages(session, kind=MessageKind.PAGE)
        if "resume it if right" in (m.body or "")
    ]
    assert pages, "the on-call person is told"


def test_a_patient_who_was_never_stopped_is_told_truthfully_what_is_planned(
    session, factory, clinic, composer, now
) -> None:
    patient = factory.patient(clinic, phone=PHONE, sms_consent_at=now)
    text_in(session, composer, "START", now)
    body = the_reply(session, "start_confirmation").body or ""
    assert "no more aftercare messages are planned" in body
    assert session.get(Patient, patient.id).sms_opted_out_at is None  # type: ignore[union-attr]


def test_a_patient_enrolled_after_stop_still_gets_the_safety_steps_by_email(
    session, factory, clinic, now
) -> None:
    enrolled(session, factory, clinic, now, sms_opted_out_at=now - timedelta(days=1))
    reminders = messages(session, step_key="red_flag_reminder")
    assert {(m.channel, m.status) for m in reminders} == {("email", "scheduled")}
    assert all("sent by email instead" in (m.status_reason or "") for m in reminders)
    routine = messages(session, step_key="day3_effect")
    assert [(m.channel, m.status) for m in routine] == [("sms", "skipped")]
