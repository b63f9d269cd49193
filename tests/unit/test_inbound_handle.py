"""The inbound use case on an in-memory database: what each kind of reply leaves behind."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from service.composer import Composer
from service.db.models import (
    Alert,
    AuditLog,
    Clinic,
    Enrollment,
    InboundMessage,
    Message,
    Patient,
)
from service.domain import (
    AlertSeverity,
    AlertStatus,
    Channel,
    MessageKind,
    MessageStatus,
    Priority,
)
from service.inbound.matching import triage_hints
from service.inbound.reply import InboundReply
from service.outbox import queue_message
from tests.factories import Factory
from tests.inbound_support import Inbox, oncall_clinic, pages, replies, rows


@pytest.fixture
def clinic(factory: Factory, session: Session) -> Clinic:
    return oncall_clinic(factory, session)


@pytest.fixture
def patient(factory: Factory, clinic: Clinic) -> Patient:
    return factory.patient(clinic, first_name="Ana", phone="+14155550123", email="ana@example.test")


@pytest.fixture
def inbox(session: Session, composer: Composer, now: datetime, clinic: Clinic) -> Inbox:
    return Inbox(session, composer, now)


def test_an_urgent_reply_opens_an_alert_pages_on_call_and_sends_the_safety_net(
    session: Session, inbox: Inbox, patient: Patient, now: datetime
) -> None:
    outcome = inbox.sms("help my face is drooping")
    [alert] = rows(session, Alert)
    assert (alert.severity, alert.status, alert.patient_id) == ("urgent", "open", patient.id)
    assert alert.next_escalation_at == now + timedelta(minutes=15)
    assert outcome.alert_id == alert.id
    # Level 0 pages the first on-call by SMS and email, urgently.
    assert sorted((p.channel, p.to_address) for p in pages(session)) == [
        ("email", "a@glow.test"),
        ("sms", "+14155550501"),
    ]
    for page in pages(session):
        assert page.priority == Priority.URGENT and page.patient_id is None
        # What a nurse needs at night: the sign as the plan names it and the number to
        # call; never the reply itself.
        assert "help my face" not in (page.body or "")
        assert f"/app/alerts#alert-{alert.id}" in (page.body or "")
        assert "drooping face" in (page.body or "") and "+14155550123" in (page.body or "")
        assert "Ana" in (page.body or "")
    [reply] = replies(session)
    assert (reply.patient_id, reply.channel, reply.priority) == (patient.id, "sms", "urgent")
    # A drooping face is routed to the emergency number: the reply says so, and no "wait".
    assert "for a drooping face or slurred speech, call 911 now" in (reply.body or "")
    assert "someone will call" not in (reply.body or "")
    [inbound] = rows(session, InboundMessage)
    assert inbound.intent == "urgent" and inbound.matches


def test_a_replayed_message_sid_changes_nothing(session: Session, inbox: Inbox, patient) -> None:  # type: ignore[no-untyped-def]
    first = inbox.sms("my lips are turning blue", sid="SM" + "f" * 32)
    second = inbox.sms("my lips are turning blue", sid="SM" + "f" * 32)
    assert second.duplicate and second.inbound_id == first.inbound_id
    assert len(rows(session, InboundMessage)) == 1
    assert len(rows(session, Alert)) == 1
    assert len(replies(session)) == 1


def test_a_second_urgent_text_joins_the_open_alert_but_still_gets_the_safety_net(
    session: Session, inbox: Inbox, patient: Patient
) -> None:
    inbox.sms("my lips are turning blue")
    inbox.sms("my lips are still turning blue")
    assert len(rows(session, Alert)) == 1
    assert len(pages(session)) == 2  # the first page only
    assert [r.context["compliance"] for r in replies(session)] == ["urgent_safety_net"] * 2  # type: ignore[index]


def plan_sms(session: Session, clinic: Clinic, patient: Patient, now: datetime, n: int) -> Message:
    return queue_message(
        session, clinic_id=clinic.id, channel=Channel.SMS, body="tip", kind=MessageKind.PLAN,
        priority=Priority.ROUTINE, due_at=now + timedelta(days=n), dedupe_key=f"plan:{n}",
        patient_id=patient.id,
    )  # fmt: skip


def test_stop_opts_out_cancels_pending_sms_confirms_once_and_tells_the_clinic(
    session: Session, inbox: Inbox, clinic: Clinic, patient: Patient, now: datetime
) -> None:
    pending = [plan_sms(session, clinic, patient, now, n) for n in (1, 2)]
    session.commit()
    inbox.sms("Stop.")
    session.refresh(patient)
    assert patient.sms_opted_out_at == now
    assert all(session.get(Message, m.id).status == MessageStatus.CANCELLED for m in pending)  # type: ignore[union-attr]
    [confirmation] = replies(session)
    assert confirmation.context == {"compliance": "stop_confirmation", "inbound_id": 1}
    assert "START" in (confirmation.body or "") and "911" in (confirmation.body or "")
    [task] = rows(session, Alert)
    assert (task.severity, task.kind) == (AlertSeverity.TASK, "opt_out")
    [page] = pages(session)
    assert page.to_address == "a@glow.test" and "opted out" in (page.subject or "")
    assert rows(session, AuditLog, action="patient.opt_out.sms")
    inbox.sms("STOP")  # carriers allow a single confirmation
    assert len(replies(session)) == 1 and len(rows(session, Alert)) == 1


def test_an_urgent_symptom_outranks_an_opt_out_word(
    session: Session, inbox: Inbox, patient: Patient
) -> None:
    inbox.sms("STOP my lips are turning blue")
    session.refresh(patient)
    assert patient.sms_opted_out_at is None
    [alert] = rows(session, Alert, severity="urgent")
    assert "opt-out" in alert.summary
    # ...and a person confirms whether the patient also wants the messages to stop.
    [task] = rows(session, Alert, kind="confirm_opt_out")
    assert task.severity == "task" and task.patient_id == patient.id


def test_the_pain_wont_stop_is_not_an_opt_out(session: Session, inbox: Inbox, patient) -> None:  # type: ignore[no-untyped-def]
    inbox.sms("The pain won't stop")
    session.refresh(patient)
    assert patient.sms_opted_out_at is None
    assert len(rows(session, Alert, severity="concern")) == 1
    assert [r.context["compliance"] for r in replies(session)] == ["concern_reply"]  # type: ignore[index]


def test_start_after_stop_opts_back_in_with_a_confirmation(
    session: Session, inbox: Inbox, patient: Patient
) -> None:
    inbox.sms("STOP")
    inbox.sms("START")
    session.refresh(patient)
    assert patient.sms_opted_out_at is None
    names = [r.context["compliance"] for r in replies(session)]  # type: ignore[index]
    assert names == ["stop_confirmation", "start_confirmation"]


def test_help_names_the_clinic_its_phone_and_how_to_opt_out(
    session: Session, inbox: Inbox, clinic: Clinic, patient: Patient
) -> None:
    inbox.sms("HELP")
    [reply] = replies(session)
    assert clinic.name in (reply.body or "") and clinic.contact_phone in (reply.body or "")
    assert "STOP" in (reply.body or "")
    assert not rows(session, Alert)


def test_spanish_patients_get_spanish_replies(session: Session, inbox: Inbox, patient) -> None:  # type: ignore[no-untyped-def]
    patient.language = "es"
    session.add(patient)
    session.commit()
    inbox.sms("AYUDA")
    [reply] = replies(session)
    assert reply.language == "es" and "emergencia" in (reply.body or "")


@pytest.mark.parametrize(
    ("text", "intent", "alert_kind", "reply_name"),
    [
        ("1", "1", None, "checkin_ack"),
        ("2", "2", "checkin_worry", "checkin_ack"),
        ("3", "3", "callback", "callback_ack"),
    ],
)
def test_checkin_answers_are_recorded_and_three_asks_for_a_call_back(
    session: Session,
    inbox: Inbox,
    patient: Patient,
    text,
    intent,
    alert_kind,
    reply_name,  # type: ignore[no-untyped-def]
) -> None:
    inbox.sms(text)
    [inbound] = rows(session, InboundMessage)
    assert inbound.intent == intent
    assert [a.kind for a in rows(session, Alert)] == ([alert_kind] if alert_kind else [])
    assert [r.context["compliance"] for r in replies(session)] == [reply_name]  # type: ignore[index]


def test_a_photo_is_kept_as_links_and_queued_for_staff_review(
    session: Session, inbox: Inbox, patient: Patient
) -> None:
    inbox.sms("", media_urls=("https://api.twilio.test/Media/ME1",))
    [inbound] = rows(session, InboundMessage)
    assert inbound.media_urls == ["https://api.twilio.test/Media/ME1"]
    [task] = rows(session, Alert)
    assert task.kind == "media_review" and task.severity == "task"


@pytest.mark.parametrize("text", ["", "🙂👍", "ok " * 533, "😷" * 400])
def test_odd_bodies_are_recorded_without_a_fuss(
    session: Session, inbox: Inbox, patient, text
) -> None:  # type: ignore[no-untyped-def]
    inbox.sms(text)
    [inbound] = rows(session, InboundMessage)
    assert inbound.body == text and inbound.handled_at is not None
    assert not rows(session, Alert, severity="urgent")


def test_an_unknown_number_is_recorded_and_answered_once(session: Session, inbox: Inbox) -> None:
    inbox.sms("hi who is this", sender="+14155550777")
    inbox.sms("hello?", sender="+14155550777")
    assert len(rows(session, InboundMessage)) == 2
    [reply] = replies(session)
    assert reply.to_address == "+14155550777" and reply.patient_id is None
    assert reply.context["compliance"] == "unknown_sender"  # type: ignore[index]


def test_stop_from_an_unknown_number_gets_no_reply(session: Session, inbox: Inbox) -> None:
    inbox.sms("STOP", sender="+14155550777")
    assert not replies(session)


def test_an_urgent_text_from_an_unknown_number_still_pages(session: Session, inbox: Inbox) -> None:
    inbox.sms("this is Ana on my husband's phone, my face is drooping", sender="+14155550777")
    [alert] = rows(session, Alert)
    assert alert.severity == "urgent" and alert.patient_id is None
    assert pages(session)
    assert [r.context["compliance"] for r in replies(session)] == ["urgent_safety_net"]  # type: ignore[index]


def test_the_loop_guard_caps_auto_replies_but_never_the_safety_net(
    session: Session, inbox: Inbox, patient: Patient
) -> None:
    for _ in range(5):
        inbox.sms("HELP")
    assert len(replies(session)) == 3
    inbox.sms("I can't breathe properly")
    assert replies(session)[-1].context["compliance"] == "urgent_safety_net"  # type: ignore[index]


def test_a_safety_net_reply_to_an_opted_out_patient_goes_by_email(
    session: Session, inbox: Inbox, patient: Patient, now: datetime
) -> None:
    patient.sms_opted_out_at = now
    session.add(patient)
    session.commit()
    inbox.sms("my lips are turning blue")
    [reply] = replies(session)
    assert reply.channel == Channel.EMAIL and "trouble breathing" in (reply.body or "")
    assert "911" in (reply.body or "")


def test_a_reply_nobody_can_route_is_recorded_without_a_reply(
    session: Session, inbox: Inbox, factory: Factory
) -> None:
    factory.clinic()  # two clinics: an unknown number to an unknown line has no home
    outcome = inbox.sms("hello", sender="+19999999999", to="+10000000000")
    assert outcome.action == "unrouted"
    [inbound] = rows(session, InboundMessage)
    assert inbound.clinic_id is None and not replies(session)


def test_a_single_clinic_install_routes_an_unknown_sender_to_its_clinic(
    session: Session, inbox: Inbox, clinic: Clinic
) -> None:
    inbox.sms("my lips are turning blue", sender="+19999999999", to="+10000000000")
    [inbound] = rows(session, InboundMessage)
    assert inbound.clinic_id == clinic.id
    assert [a.severity for a in rows(session, Alert)] == [AlertSeverity.URGENT]


def test_a_patient_known_at_two_clinics_is_triaged_by_the_one_caring_for_them(
    session: Session, inbox: Inbox, patient: Patient, factory: Factory, now: datetime
) -> None:
    other = factory.clinic()
    factory.patient(other, first_name="Ana", phone=patient.phone)
    session.add(
        Enrollment(
            clinic_id=patient.clinic_id,
            patient_id=patient.id,  # type: ignore[arg-type]
            plan_key="botox",
            plan_version=1,
            procedure_at=now - timedelta(days=2),
        )
    )
    session.commit()
    inbox.sms("I can't breathe", to="+10000000000")  # a shared sender, not a clinic line
    [alert] = rows(session, Alert)
    assert alert.severity == AlertSeverity.URGENT and alert.clinic_id == patient.clinic_id


def test_a_known_patient_writing_to_an_unknown_number_is_matched_by_phone(
    session: Session, inbox: Inbox, patient: Patient
) -> None:
    inbox.sms("HELP", to="+10000000000")
    [inbound] = rows(session, InboundMessage)
    assert (inbound.clinic_id, inbound.patient_id) == (patient.clinic_id, patient.id)


def test_triage_is_told_the_procedure_and_day_of_the_latest_enrolment(
    session: Session, clinic: Clinic, patient: Patient, now: datetime
) -> None:
    enrollment = Enrollment(
        clinic_id=clinic.id, patient_id=patient.id, plan_key="thread_lift", plan_version=1,  # type: ignore[arg-type]
        procedure_at=now - timedelta(days=12, hours=3),
    )  # fmt: skip
    session.add(enrollment)
    session.commit()
    assert triage_hints(session, enrollment, now=now) == ("thread_lift", 12)
    assert triage_hints(session, None, now=now) == (None, None)


def test_acknowledged_alerts_still_count_until_resolved(session, inbox, patient) -> None:  # type: ignore[no-untyped-def]
    from service.alerts import acknowledge, patient_has_open_alert

    inbox.sms("my lips are turning blue")
    [alert] = rows(session, Alert)
    acknowledge(session, alert=alert, actor="user:1", now=inbox.now)
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert patient_has_open_alert(session, patient.id)


def email_reply(text: str, *, whole: str | None = None, automated: bool = False) -> InboundReply:
    return InboundReply(
        provider_id=f"<{abs(hash((text, whole, automated)))}@mail.test>",
        channel=Channel.EMAIL,
        from_address="ana@example.test",
        to_address="care@glow.test",
        body=whole or text,
        text=text,
        unstripped_text=whole or text,
        automated=automated,
    )


def test_unsubscribe_by_email_opts_out_of_email_only(
    session: Session, inbox: Inbox, patient: Patient, now: datetime
) -> None:
    inbox.handle(email_reply("Unsubscribe"))
    session.refresh(patient)
    assert patient.email_opted_out_at == now and patient.sms_opted_out_at is None
    [confirmation] = replies(session)
    assert confirmation.channel == Channel.EMAIL and confirmation.subject


def test_a_red_flag_the_reply_parser_took_for_a_signature_still_pages(
    session: Session, inbox: Inbox, patient: Patient
) -> None:
    inbox.handle(email_reply("Hi", whole="Hi\nThanks, but I have trouble breathing"))
    [alert] = rows(session, Alert)
    assert alert.severity == "urgent"


def test_an_out_of_office_reply_is_recorded_and_never_answered(
    session: Session, inbox: Inbox, patient: Patient
) -> None:
    outcome = inbox.handle(email_reply("I am out of the office", automated=True))
    assert outcome.action == "automated"
    assert not replies(session) and not rows(session, Alert)


def test_a_broken_classifier_loses_nothing_and_keywords_still_work(
    session: Session, inbox: Inbox, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("lexicon failed to load")

    monkeypatch.setattr("service.inbound.handle.classify", broken)
    inbox.sms("my face feels weird")
    [alert] = rows(session, Alert)
    assert alert.severity == "concern" and "triage failed" in alert.summary
    inbox.sms("STOP")
    session.refresh(patient)
    assert patient.sms_opted_out_at is not None
