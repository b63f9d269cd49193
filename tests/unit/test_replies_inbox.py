"""The replies inbox: every reply with words reaches a person; triage orders, never hides."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from service.composer import Composer
from service.db.models import Alert, AuditLog, Clinic, InboundMessage, Patient, ReplyItem
from service.domain import Channel
from service.inbound.reply import InboundReply
from service.inbox import InboxError, assign, enter, list_replies, mark_handled
from service.inbox.due import ResponseTime, response_due
from service.inbox.overdue import report_overdue
from tests.factories import Factory
from tests.inbound_support import Inbox, oncall_clinic, pages, rows

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def clinic(factory: Factory, session: Session) -> Clinic:
    return oncall_clinic(factory, session)


@pytest.fixture
def patient(factory: Factory, clinic: Clinic) -> Patient:
    return factory.patient(clinic, first_name="Ana", phone="+14155550123", email="ana@example.test")


@pytest.fixture
def inbox(session: Session, composer: Composer, now: datetime, clinic: Clinic) -> Inbox:
    return Inbox(session, composer, now)


def unread(session: Session, clinic: Clinic) -> list[str]:
    views, _ = list_replies(session, clinic_id=clinic.id, status="unread")
    return [view.inbound.body for view in views]


@pytest.mark.parametrize(
    "text",
    ["thanks!", "feeling good, much better today", "can I move my appointment?", "who is this?"],
)
def test_a_reply_triage_calls_routine_still_reaches_the_inbox_unread(
    session: Session, inbox: Inbox, patient: Patient, clinic: Clinic, text: str
) -> None:
    inbox.sms(text)
    [item] = rows(session, ReplyItem)
    assert (item.clinic_id, item.patient_id, item.handled_at, item.rank) == (
        clinic.id, patient.id, None, 2,
    )  # fmt: skip
    assert unread(session, clinic) == [text]


@pytest.mark.parametrize("text", ["STOP", "stop please", "HELP", "START", "3", "#1"])
def test_a_bare_keyword_or_checkin_number_is_acted_on_without_an_inbox_item(
    session: Session, inbox: Inbox, patient: Patient, text: str
) -> None:
    inbox.sms(text)
    assert rows(session, ReplyItem) == []


def test_the_inbox_is_ordered_urgent_then_concern_then_the_rest_oldest_first(
    session: Session, inbox: Inbox, patient: Patient, clinic: Clinic, now: datetime
) -> None:
    for minute, text in enumerate(
        ["thanks", "the swelling is getting worse", "ok see you then", "my lips are turning blue"]
    ):
        inbox.now = now + timedelta(minutes=minute)
        inbox.sms(text)
    assert unread(session, clinic) == [
        "my lips are turning blue",
        "the swelling is getting worse",
        "thanks",
        "ok see you then",
    ]
    urgent = rows(session, ReplyItem, label="urgent")[0]
    [alert] = rows(session, Alert, severity="urgent")
    assert urgent.alert_id == alert.id  # the item links to the alert the reply opened


def test_a_photo_without_words_reaches_the_inbox(
    session: Session, inbox: Inbox, patient: Patient
) -> None:
    inbox.sms(
        "", media_urls=("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",)
    )
    [item] = rows(session, ReplyItem)
    assert item.patient_id == patient.id


def test_a_reply_from_an_unknown_number_reaches_the_inbox_with_no_patient(
    session: Session, inbox: Inbox, clinic: Clinic
) -> None:
    inbox.sms("hi this is Ana, I have a new phone", sender="+14155550777")
    [view] = list_replies(session, clinic_id=clinic.id)[0]
    assert view.item.patient_id is None and view.patient_ids == []


def test_an_out_of_office_email_is_not_an_inbox_item(
    session: Session, inbox: Inbox, patient: Patient
) -> None:
    reply = InboundReply(provider_id="<ooo@example.test>", channel=Channel.EMAIL,
                         from_address="ana@example.test", to_address="care@glow.test",
                         body="I am away", text="I am away", automated=True)  # fmt: skip
    inbox.handle(reply)
    assert rows(session, ReplyItem) == []


def test_the_pain_wont_stop_is_a_symptom_and_a_task_to_confirm_an_opt_out(
    session: Session, inbox: Inbox, patient: Patient, clinic: Clinic
) -> None:
    inbox.sms("The pain won't stop")
    session.refresh(patient)
    assert patient.sms_opted_out_at is None  # the symptom wins: texts go on
    [concern] = rows(session, Alert, kind="triage_concern")
    [task] = rows(session, Alert, kind="confirm_opt_out")
    assert (task.severity, task.patient_id) == ("task", patient.id)
    assert "want messages to stop" in task.summary
    [page] = pages(session)  # the first on-call hears of it (email first)
    assert page.to_address == "a@glow.test" and "STOP" in (page.subject or "")
    [item] = rows(session, ReplyItem)
    assert (item.rank, item.alert_id) == (1, concern.id)
    inbox.sms("it still won't stop")  # one open task at a time
    assert len(rows(session, Alert, kind="confirm_opt_out")) == 1


def test_handling_records_who_when_and_the_note_once(
    session: Session, inbox: Inbox, patient: Patient, clinic: Clinic, now: datetime
) -> None:
    inbox.sms("thanks")
    [item] = rows(session, ReplyItem)
    mark_handled(session, item=item, actor="user:7", now=now, note="  no action needed ")
    mark_handled(session, item=item, actor="user:8", now=now + timedelta(hours=1))
    assert (item.handled_by, item.handled_at, item.handled_note) == (
        "user:7", now, "no action needed",
    )  # fmt: skip
    assert unread(session, clinic) == []
    [handled], total = list_replies(session, clinic_id=clinic.id, status="handled")
    assert total == 1 and handled.item.id == item.id
    [audit] = rows(session, AuditLog, action="reply.handled")
    assert (audit.actor, audit.entity_id) == ("user:7", item.id)


def test_a_reply_is_assigned_only_to_a_patient_it_may_be_from(
    session: Session, factory: Factory, clinic: Clinic, now: datetime
) -> None:
    ana = factory.patient(clinic, first_name="Ana", phone="+14155550123")
    ben = factory.patient(clinic, first_name="Ben", phone="+14155550123")
    stranger = factory.patient(clinic, first_name="Cy", phone="+14155550124")
    inbound = InboundMessage(provider_id="SM1", channel="sms", clinic_id=clinic.id,
                             from_address="+14155550123", body="hi")  # fmt: skip
    session.add(inbound)
    session.flush()
    item = enter(session, inbound=inbound, clinic=clinic, label="other", now=now,
                 candidates=[ana.id, ben.id])  # type: ignore[list-item]  # fmt: skip
    with pytest.raises(InboxError) as refused:
        assign(session, item=item, patient_id=stranger.id, actor="user:1", now=now)  # type: ignore[arg-type]
    assert refused.value.field == "patient_id"
    assign(session, item=item, patient_id=ben.id, actor="user:1", now=now)  # type: ignore[arg-type]
    assert (item.patient_id, inbound.patient_id, item.assigned_by) == (ben.id, ben.id, "user:1")
    [view], _ = list_replies(session, clinic_id=clinic.id)
    assert view.patient_ids == [ben.id, ana.id]  # the attributed one first
    assert rows(session, AuditLog, action="reply.assign")


# --- response times ------------------------------------------------------------------


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (local(2, 9), local(2, 13)),  # by day: within four hours
        (local(2, 16), local(2, 20)),  # exactly at the day's end
        (local(2, 17), local(3, 10)),  # cannot be answered by 20:00: next morning
        (local(2, 22), local(3, 10)),  # at night: 10:00 the next morning
        (local(3, 2), local(3, 10)),  # after midnight: this morning
        (local(3, 7, 59), local(3, 10)),  # before the day starts
        (local(7, 21), local(8, 10)),  # into the spring-forward day: 10:00 EDT
    ],
)
def test_a_reply_is_due_by_the_clinics_response_time(received: datetime, due: datetime) -> None:
    assert response_due(received.astimezone(UTC), tz=NEW_YORK, rule=ResponseTime()) == due


def test_the_response_time_is_a_clinic_setting() -> None:
    rule = ResponseTime(within=timedelta(hours=1), day_start=time(7), day_end=time(22),
                        night_due=time(8, 30))  # fmt: skip
    assert response_due(local(2, 20, 30), tz=NEW_YORK, rule=rule) == local(2, 21, 30)
    assert response_due(local(2, 21, 30), tz=NEW_YORK, rule=rule) == local(3, 8, 30)


# --- replies past their time -----------------------------------------------------------


def test_an_unread_reply_past_its_time_opens_a_task_and_pages_once(
    session: Session, inbox: Inbox, patient: Patient, clinic: Clinic, composer: Composer
) -> None:
    inbox.now = local(2, 9).astimezone(UTC)
    inbox.sms("is it normal that it itches?")
    inbox.sms("thanks")
    [first, _] = rows(session, ReplyItem)
    assert first.due_at == local(2, 13)
    assert report_overdue(session, now=local(2, 12, 59), composer=composer) == []
    reported = report_overdue(session, now=local(2, 13), composer=composer)
    assert len(reported) == 2
    tasks = rows(session, Alert, kind="reply_overdue")
    assert [t.severity for t in tasks] == ["task", "task"]
    assert {t.patient_id for t in tasks} == {patient.id}
    # One page per clinic per round, to the first on-call by SMS and email, naming nobody.
    overdue_pages = [p for p in pages(session) if (p.context or {}).get("page") == "page_overdue"]
    assert sorted((p.channel, p.to_address) for p in overdue_pages) == [
        ("email", "a@glow.test"),
        ("sms", "+14155550501"),
    ]
    for page in overdue_pages:
        assert "2 patient replies" in (page.body or "")
        assert "/app/replies" in (page.body or "")
        assert "Ana" not in (page.body or "") and "itches" not in (page.body or "")
    assert report_overdue(session, now=local(2, 14), composer=composer) == []


def test_handling_a_late_reply_resolves_its_task(
    session: Session, inbox: Inbox, patient: Patient, composer: Composer
) -> None:
    inbox.now = local(2, 9).astimezone(UTC)
    inbox.sms("thanks")
    report_overdue(session, now=local(2, 13), composer=composer)
    [item] = rows(session, ReplyItem)
    mark_handled(session, item=item, actor="user:3", now=local(2, 14))
    [task] = rows(session, Alert, kind="reply_overdue")
    assert (task.status, task.resolved_by) == ("resolved", "user:3")


def test_a_handled_reply_is_never_reported_late(
    session: Session, inbox: Inbox, patient: Patient, composer: Composer
) -> None:
    inbox.now = local(2, 9).astimezone(UTC)
    inbox.sms("thanks")
    [item] = rows(session, ReplyItem)
    mark_handled(session, item=item, actor="user:3", now=local(2, 10))
    assert report_overdue(session, now=local(3, 9), composer=composer) == []
    assert rows(session, Alert, kind="reply_overdue") == []


def test_each_clinic_hears_only_of_its_own_late_replies(
    session: Session, factory: Factory, inbox: Inbox, clinic: Clinic, composer: Composer
) -> None:
    other = oncall_clinic(factory, session, sms_from="+14155550888", email_from="b@b.test")
    factory.patient(clinic, phone="+14155550123")
    factory.patient(other, phone="+14155550124")
    inbox.now = local(2, 9).astimezone(UTC)
    inbox.sms("thanks", sender="+14155550123")
    inbox.sms("thanks", sender="+14155550124", to="+14155550888")
    report_overdue(session, now=local(2, 13), composer=composer)
    by_clinic = sorted(
        (p.clinic_id, p.channel) for p in pages(session) if (p.context or {}).get("page")
    )
    assert by_clinic == [(clinic.id, "email"), (clinic.id, "sms"),
                         (other.id, "email"), (other.id, "sms")]  # fmt: skip
