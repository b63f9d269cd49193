"""The right patient on a shared phone, the right clinic on a shared sender."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from service import accounts
from service.composer import Composer
from service.config import DEFAULT_TEMPLATES_DIR
from service.db.models import Alert, Clinic, InboundMessage, Message, Patient, ReplyItem
from service.domain import MessageKind, MessageStatus, Priority
from service.inbox import list_replies
from service.outbox import queue_message
from service.plans.loader import PlanDefinitionError, parse_plan, read_definition
from tests.factories import Factory
from tests.inbound_support import CLINIC_NUMBER, Inbox, oncall_clinic, pages, replies, rows

FAMILY_PHONE = "+14155550123"


@pytest.fixture
def clinic(factory: Factory, session: Session) -> Clinic:
    return oncall_clinic(factory, session)


@pytest.fixture
def inbox(session: Session, composer: Composer, now: datetime) -> Inbox:
    return Inbox(session, composer, now)


@pytest.fixture
def family(factory: Factory, clinic: Clinic, now: datetime) -> tuple[Patient, Patient]:
    """A parent and a teenager on one phone, both in a plan; Ben enrolled last."""
    ana = factory.patient(clinic, first_name="Ana", last_name="Ruiz", phone=FAMILY_PHONE)
    ben = factory.patient(clinic, first_name="Ben", last_name="Ruiz", phone=FAMILY_PHONE)
    factory.enrol(clinic, ana, procedure_at=now - timedelta(days=3), now=now - timedelta(days=3))
    factory.enrol(clinic, ben, procedure_at=now - timedelta(days=1), now=now - timedelta(days=1))
    return ana, ben


def sent(session: Session, clinic: Clinic, patient: Patient, at: datetime) -> Message:
    """A text that left for `patient` at `at`."""
    message = queue_message(session, clinic_id=clinic.id, channel="sms", body="How are you?",  # type: ignore[arg-type]
                            kind=MessageKind.PLAN, priority=Priority.ROUTINE, due_at=at,
                            dedupe_key=f"sent:{patient.id}:{at.isoformat()}",
                            patient_id=patient.id)  # fmt: skip
    message.status, message.sent_at = MessageStatus.SENT, at
    session.add(message)
    session.commit()
    return message


# --- a shared phone ---------------------------------------------------------------------


def test_a_reply_answers_the_latest_message_on_the_number_not_the_latest_enrolment(
    session: Session,
    inbox: Inbox,
    clinic: Clinic,
    family,
    now: datetime,  # type: ignore[no-untyped-def]
) -> None:
    ana, ben = family
    sent(session, clinic, ben, now - timedelta(hours=5))
    sent(session, clinic, ana, now - timedelta(hours=2))  # the message the reply answers
    inbox.sms("my face is drooping")
    [alert] = rows(session, Alert, severity="urgent")
    assert alert.patient_id == ana.id
    assert all("Ana (#" in (p.body or "") for p in pages(session))
    [safety_net] = replies(session)
    assert safety_net.patient_id == ana.id
    [item] = rows(session, ReplyItem)
    assert item.patient_id == ana.id
    # Everyone on the number stays listed: staff can still reassign it.
    assert list_replies(session, clinic_id=clinic.id)[0][0].patient_ids == [ana.id, ben.id]


def test_without_a_recent_message_a_shared_number_reply_is_nobodys_and_names_everyone(
    session: Session,
    inbox: Inbox,
    clinic: Clinic,
    family,
    now: datetime,  # type: ignore[no-untyped-def]
) -> None:
    ana, ben = family
    sent(session, clinic, ben, now - timedelta(hours=30))  # outside botox's 24h reply window
    outcome = inbox.sms("I can't breathe")
    [alert] = rows(session, Alert, severity="urgent")
    assert alert.patient_id is None and outcome.alert_id == alert.id
    assert alert.summary.startswith("Shared number (Ana Ruiz or Ben Ruiz): Urgent reply")
    urgent_pages = [p for p in pages(session) if p.priority == "urgent"]
    assert len(urgent_pages) == 2  # paged at once all the same (SMS and email)
    for page in urgent_pages:
        assert f"shared number: Ana (#{ana.id}) or Ben (#{ben.id})" in (page.body or "")
    [safety_net] = replies(session)
    assert (safety_net.patient_id, safety_net.to_address) == (None, FAMILY_PHONE)
    assert "Ana" not in (safety_net.body or "") and "Ben" not in (safety_net.body or "")
    [view], _ = list_replies(session, clinic_id=clinic.id)
    assert (view.item.patient_id, view.patient_ids) == (None, [ana.id, ben.id])
    assert view.item.alert_id == alert.id


def test_an_answer_to_an_unattributed_shared_number_uses_no_first_name(
    session: Session,
    inbox: Inbox,
    clinic: Clinic,
    family,  # type: ignore[no-untyped-def]
) -> None:
    inbox.sms("1")
    [ack] = replies(session)
    assert ack.body is not None and ack.body.startswith("Thanks, glad to hear all is well.")


def test_stop_from_a_shared_number_opts_out_everyone_on_it_once(
    session: Session,
    inbox: Inbox,
    clinic: Clinic,
    family,  # type: ignore[no-untyped-def]
) -> None:
    ana, ben = family
    inbox.sms("STOP")
    session.refresh(ana)
    session.refresh(ben)
    assert ana.sms_opted_out_at is not None and ben.sms_opted_out_at is not None
    assert [r.context["compliance"] for r in replies(session)] == ["stop_confirmation"]  # type: ignore[index]
    [task] = rows(session, Alert, kind="opt_out")
    assert task.summary.startswith("Shared number (Ana Ruiz or Ben Ruiz): Patient opted out")
    inbox.sms("START")
    session.refresh(ana)
    session.refresh(ben)
    assert ana.sms_opted_out_at is None and ben.sms_opted_out_at is None


def test_one_patient_on_a_number_is_that_patient_whatever_was_sent(
    session: Session, inbox: Inbox, clinic: Clinic, factory: Factory
) -> None:
    solo = factory.patient(clinic, first_name="Cy", phone="+14155550999")
    inbox.sms("my lips are turning blue", sender="+14155550999")
    [alert] = rows(session, Alert)
    assert alert.patient_id == solo.id


def test_a_plan_may_declare_its_reply_window() -> None:
    base = read_definition(DEFAULT_TEMPLATES_DIR / "plans" / "botox.yaml")
    assert parse_plan({**base, "reply_window": "2d"}, {}).reply_window == timedelta(days=2)
    assert parse_plan(base, {}).reply_window == timedelta(hours=24)
    with pytest.raises(PlanDefinitionError, match="reply_window"):
        parse_plan({**base, "reply_window": "soon"}, {})


# --- a shared sender ------------------------------------------------------------------


@pytest.fixture
def two_clinics(factory: Factory, session: Session) -> tuple[Clinic, Clinic]:
    """Two clinics texting from one number (one Messaging Service), each with on-call."""
    first = oncall_clinic(factory, session, name="Alpha")
    second = factory.clinic(name="Beta", sms_from=CLINIC_NUMBER)
    accounts.add_oncall(session, clinic=second, name="Dr Z", phone="+14155550601",
                        email=None)  # fmt: skip
    session.commit()
    return first, second


def test_a_shared_sender_reply_goes_to_the_only_clinic_that_knows_the_number(
    session: Session,
    inbox: Inbox,
    two_clinics,
    factory: Factory,  # type: ignore[no-untyped-def]
) -> None:
    _alpha, beta = two_clinics
    patient = factory.patient(beta, phone=FAMILY_PHONE)
    inbox.sms("my face is drooping")
    [alert] = rows(session, Alert)
    assert (alert.clinic_id, alert.patient_id) == (beta.id, patient.id)
    assert {p.to_address for p in pages(session)} == {"+14155550601"}  # Beta's on-call only
    assert [i.clinic_id for i in rows(session, ReplyItem)] == [beta.id]


def test_on_a_shared_sender_the_clinic_that_texted_the_number_last_gets_the_reply(
    session: Session,
    inbox: Inbox,
    two_clinics,
    factory: Factory,
    now: datetime,  # type: ignore[no-untyped-def]
) -> None:
    alpha, beta = two_clinics
    at_alpha = factory.patient(alpha, phone=FAMILY_PHONE)
    at_beta = factory.patient(beta, phone=FAMILY_PHONE)
    sent(session, alpha, at_alpha, now - timedelta(days=2))
    sent(session, beta, at_beta, now - timedelta(hours=3))
    inbox.sms("I can't breathe")
    [alert] = rows(session, Alert)
    assert (alert.clinic_id, alert.patient_id) == (beta.id, at_beta.id)


def test_when_nothing_decides_every_clinic_with_the_number_sees_the_reply(
    session: Session,
    inbox: Inbox,
    two_clinics,
    factory: Factory,
    now: datetime,  # type: ignore[no-untyped-def]
) -> None:
    alpha, beta = two_clinics
    for clinic in (alpha, beta):
        factory.patient(clinic, phone=FAMILY_PHONE)
    outcome = inbox.sms("my lips are turning blue")
    alerts = rows(session, Alert, severity="urgent")
    assert sorted(a.clinic_id for a in alerts) == sorted([alpha.id, beta.id])
    assert outcome.alert_id in {a.id for a in alerts}
    paged = {p.clinic_id for p in pages(session) if p.priority == "urgent"}
    assert paged == {alpha.id, beta.id}  # each clinic's on-call hears of it
    assert len(replies(session)) == 1  # the patient gets one answer
    assert sorted(i.clinic_id for i in rows(session, ReplyItem)) == sorted([alpha.id, beta.id])
    [inbound] = rows(session, InboundMessage)
    assert inbound.clinic_id is None  # it belongs to both


def test_a_number_enrolled_in_one_of_the_clinics_goes_to_that_one(
    session: Session,
    inbox: Inbox,
    two_clinics,
    factory: Factory,
    now: datetime,  # type: ignore[no-untyped-def]
) -> None:
    alpha, beta = two_clinics
    factory.patient(alpha, phone=FAMILY_PHONE)  # an old record, nothing running
    current = factory.patient(beta, phone=FAMILY_PHONE)
    factory.enrol(beta, current, procedure_at=now - timedelta(days=1), now=now)
    inbox.sms("my lips are turning blue")
    [alert] = rows(session, Alert)
    assert alert.clinic_id == beta.id


def test_an_unknown_number_on_a_shared_sender_reaches_no_clinic(
    session: Session,
    inbox: Inbox,
    two_clinics,  # type: ignore[no-untyped-def]
) -> None:
    outcome = inbox.sms("my lips are turning blue", sender="+14155550777")
    assert outcome.action == "unrouted"
    assert rows(session, Alert) == [] and rows(session, ReplyItem) == []


def test_a_clinics_own_number_decides_even_if_another_clinic_texted_the_patient_last(
    session: Session, inbox: Inbox, factory: Factory, now: datetime
) -> None:
    ours = oncall_clinic(factory, session, name="Ours")
    theirs = factory.clinic(name="Theirs", sms_from="+14155550888")
    mine = factory.patient(ours, phone=FAMILY_PHONE)
    other = factory.patient(theirs, phone=FAMILY_PHONE)
    sent(session, theirs, other, now - timedelta(minutes=5))
    inbox.sms("I can't breathe")  # written to CLINIC_NUMBER, ours alone
    [alert] = rows(session, Alert)
    assert (alert.clinic_id, alert.patient_id) == (ours.id, mine.id)


# --- what a page carries ------------------------------------------------------------------


def test_an_urgent_page_carries_what_a_nurse_needs_at_night(
    session: Session, inbox: Inbox, clinic: Clinic, factory: Factory, now: datetime
) -> None:
    ana = factory.patient(clinic, first_name="Ana", phone=FAMILY_PHONE)
    factory.enrol(clinic, ana, procedure_at=now - timedelta(days=3), now=now - timedelta(days=3))
    inbox.sms("help my face is drooping")
    [sms] = [p for p in pages(session) if p.channel == "sms"]
    body = sms.body or ""
    assert f"Ana (#{ana.id})" in body and "botox day 3" in body
    assert "drooping face" in body and f"Call {FAMILY_PHONE}" in body
    assert "help my face" not in body  # the reply itself stays in the alert
    assert sms.segments is not None and sms.segments <= 2


def test_a_clinic_can_reduce_pages_to_a_callback_number_and_a_link(
    session: Session, inbox: Inbox, factory: Factory
) -> None:
    from service.clinics import ClinicChanges, ClinicError, update_clinic

    clinic = oncall_clinic(factory, session, sms_from="+14155550888")
    update_clinic(session, clinic, ClinicChanges(page_detail="minimal"), actor="user:1")
    factory.patient(clinic, first_name="Ana", phone=FAMILY_PHONE)
    inbox.sms("my lips are turning blue", to="+14155550888")
    [sms] = [p for p in pages(session) if p.channel == "sms"]
    assert f"patient reply needs a call: {FAMILY_PHONE}" in (sms.body or "")
    assert "Ana" not in (sms.body or "") and "lips" not in (sms.body or "")
    assert "/app/alerts#alert-" in (sms.body or "")
    for bad in (ClinicChanges(page_detail="everything"), ClinicChanges(reply_response_minutes=0)):
        with pytest.raises(ClinicError):
            update_clinic(session, clinic, bad, actor="user:1")


def test_a_shared_number_reply_as_the_webhook_stores_it_is_routed_by_context(
    session: Session,
    inbox: Inbox,
    clinic: Clinic,
    family,
    now: datetime,  # type: ignore[no-untyped-def]
) -> None:
    from service.api.routers.webhooks_inbound import storable
    from service.domain import Channel
    from service.inbound.reply import InboundReply

    ana, _ben = family
    sent(session, clinic, ana, now - timedelta(hours=1))
    words = "my lips are turning blue"
    reply = InboundReply(provider_id="SM" + "a" * 32, channel=Channel.SMS,
                         from_address=FAMILY_PHONE, to_address=CLINIC_NUMBER,
                         body=words, text=words)  # fmt: skip
    inbox.handle(storable(reply))  # its channel comes back a plain string
    [alert] = rows(session, Alert)
    assert alert.patient_id == ana.id
