"""Enrolment: rows, idempotency, late enrolment, channels, limits, pacing, operations."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from service import senders
from service.db.models import AuditLog, Clinic, Enrollment, Message, MessageEvent, Patient
from service.domain import Channel, EnrollmentStatus, MessageKind, MessageStatus, Priority
from service.enrollment import (
    EnrolError,
    EnrolRequest,
    EnrolResult,
    cancel,
    check_procedure_at,
    enrol,
    enrol_many,
    lose_sms,
    pause,
    reschedule,
    resume,
)
from service.outbox import queue_message, transition
from service.plans.loader import plan_sha256
from service.plans.model import Offset, Plan, Step
from tests.factories import Factory

NY = ZoneInfo("America/New_York")


def make_step(key: str, offset: Offset, **overrides: object) -> Step:
    values: dict[str, object] = {
        "key": key,
        "offset": offset,
        "valid_for": timedelta(days=1),
        "channels": (Channel.SMS,),
    }
    values.update(overrides)
    return Step(**values)  # type: ignore[arg-type]


def make_plan(*steps: Step, key: str = "test_plan", version: int = 1) -> Plan:
    definition = {"key": key, "version": version, "steps": [repr(s) for s in steps]}
    return Plan(
        key=key,
        version=version,
        title="Test plan",
        procedure="test procedure",
        languages=("en",),
        steps=tuple(steps),
        templates={},
        sha256=plan_sha256(definition, {}),
        definition=definition,
    )


BASIC = make_plan(
    make_step("day0", Offset(hours=2), priority=Priority.SAFETY, channels=(Channel.SMS,)),
    make_step("day1", Offset(days=1, at=time(10, 0)), channels=(Channel.SMS, Channel.EMAIL)),
    make_step("late_evening", Offset(days=2, at=time(22, 30))),
    make_step(
        "checkin",
        Offset(days=3, at=time(9, 0)),
        repeat_every=Offset(days=2),
        repeat_until=Offset(days=7),
    ),
)


def consenting(factory: Factory, clinic: Clinic, now: datetime, **overrides: object) -> Patient:
    values: dict[str, object] = {"sms_consent_at": now, "email_consent_at": now}
    values.update(overrides)
    return factory.patient(clinic, **values)


def enrol_at(
    session: Session,
    clinic: Clinic,
    patient: Patient,
    plan: Plan,
    procedure_at: datetime,
    now: datetime,
) -> EnrolResult:
    """The enrolment most tests make: by staff user 1, nothing else unusual."""
    return enrol(session, clinic=clinic, patient=patient, plan=plan, procedure_at=procedure_at,
                 now=now, actor="user:1")  # fmt: skip


def rows(session: Session, enrollment: Enrollment, kind: str = MessageKind.PLAN) -> list[Message]:
    query = select(Message).where(Message.enrollment_id == enrollment.id, Message.kind == kind)
    return list(session.exec(query.order_by(col(Message.due_at), col(Message.id))))


def by_key(messages: list[Message]) -> dict[str, Message]:
    return {f"{m.step_key}:{m.occurrence}:{m.channel}": m for m in messages}


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def test_it_creates_one_row_per_step_occurrence_and_channel(session, factory, clinic, now):
    patient = consenting(factory, clinic, now)
    procedure = datetime(2026, 3, 3, 14, 0, tzinfo=NY)
    result = enrol_at(session, clinic, patient, BASIC, procedure, now)
    session.commit()
    assert result.created
    found = by_key(rows(session, result.enrollment))
    assert set(found) == {
        "day0:0:sms",
        "day1:0:sms",
        "day1:0:email",
        "late_evening:0:sms",
        "checkin:0:sms",
        "checkin:1:sms",
        "checkin:2:sms",
    }
    day1 = found["day1:0:sms"]
    assert day1.dedupe_key == f"enr:{result.enrollment.id}:day1:0:sms"
    assert day1.body is None and day1.kind == MessageKind.PLAN
    assert day1.due_at == datetime(2026, 3, 4, 10, 0, tzinfo=NY).astimezone(UTC)
    assert day1.valid_until == day1.due_at + timedelta(days=1)
    assert found["day0:0:sms"].priority == Priority.SAFETY
    assert [found[f"checkin:{i}:sms"].due_at.astimezone(NY).day for i in range(3)] == [6, 8, 10]


def test_a_routine_step_inside_quiet_hours_moves_to_eight_next_morning(
    session, factory, clinic, now
):
    patient = consenting(factory, clinic, now)
    procedure = datetime(2026, 3, 3, 14, 0, tzinfo=NY)
    result = enrol_at(session, clinic, patient, BASIC, procedure, now)
    late = by_key(rows(session, result.enrollment))["late_evening:0:sms"]
    assert late.due_at.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 6, 8, 0)


def test_enrolling_again_returns_the_existing_enrolment_without_new_rows(
    session, factory, clinic, now
):
    patient = consenting(factory, clinic, now)
    procedure = now + timedelta(days=1)
    first = enrol_at(session, clinic, patient, BASIC, procedure, now)
    session.commit()
    again = enrol_at(session, clinic, patient, BASIC, procedure.astimezone(NY), now)
    assert not again.created
    assert again.enrollment.id == first.enrollment.id
    assert len(session.exec(select(Message)).all()) == first.messages


def test_late_enrolment_skips_stale_steps_with_a_reason_and_queues_one_catch_up(
    session, factory, clinic, now
):
    patient = consenting(factory, clinic, now)
    procedure = now - timedelta(days=2, hours=3)
    result = enrol_at(session, clinic, patient, BASIC, procedure, now)
    session.commit()
    found = by_key(rows(session, result.enrollment))
    stale = [found[k] for k in ("day0:0:sms", "day1:0:sms", "day1:0:email")]
    assert all(m.status == MessageStatus.SKIPPED for m in stale)
    assert all(
        "too late to be useful: its validity ended" in (m.status_reason or "") for m in stale
    )
    events = session.exec(
        select(MessageEvent).where(MessageEvent.message_id == found["day0:0:sms"].id)
    ).all()
    assert [e.to_status for e in events] == [MessageStatus.SKIPPED]
    assert found["checkin:0:sms"].status == MessageStatus.SCHEDULED
    catch_up = rows(session, result.enrollment, kind=MessageKind.CATCH_UP)
    assert len(catch_up) == 1 and catch_up[0].id == result.catch_up_id
    assert catch_up[0].channel == Channel.SMS
    assert patient.first_name in (catch_up[0].body or "")
    assert catch_up[0].due_at >= now


def test_a_past_step_still_valid_goes_now_instead_of_being_skipped(session, factory, clinic, now):
    patient = consenting(factory, clinic, now)
    plan = make_plan(make_step("soon", Offset(hours=1), valid_for=timedelta(hours=6)))
    result = enrol_at(session, clinic, patient, plan, now - timedelta(hours=2), now)
    (row,) = rows(session, result.enrollment)
    assert row.status == MessageStatus.SCHEDULED
    assert row.next_attempt_at == now  # 10:00 in New York: outside quiet hours
    assert result.catch_up_id is None


def test_a_channel_the_patient_lacks_is_skipped_with_the_reason(session, factory, clinic, now):
    patient = consenting(factory, clinic, now, email=None)
    result = enrol_at(session, clinic, patient, BASIC, now + timedelta(days=1), now)
    email = by_key(rows(session, result.enrollment))["day1:0:email"]
    assert email.status == MessageStatus.SKIPPED
    assert email.status_reason == "email not sent: no email address"


def test_a_landline_patient_gets_the_email_fallback(session, factory, clinic, now):
    patient = consenting(factory, clinic, now, phone_can_sms=False)
    plan = make_plan(make_step("day1", Offset(days=1, at=time(10, 0)), fallback=Channel.EMAIL))
    result = enrol_at(session, clinic, patient, plan, now + timedelta(days=1), now)
    (row,) = rows(session, result.enrollment)
    assert row.channel == Channel.EMAIL and row.status == MessageStatus.SCHEDULED
    assert "landline" in (row.status_reason or "")


def test_sms_without_consent_is_not_scheduled(session, factory, clinic, now):
    patient = consenting(factory, clinic, now, sms_consent_at=None)
    plan = make_plan(make_step("day1", Offset(days=1, at=time(10, 0))))
    result = enrol_at(session, clinic, patient, plan, now + timedelta(days=1), now)
    (row,) = rows(session, result.enrollment)
    assert row.status == MessageStatus.SKIPPED and "no SMS consent" in (row.status_reason or "")


def test_a_step_condition_the_patient_does_not_meet_is_skipped(session, factory, clinic, now):
    patient = consenting(factory, clinic, now, email=None)
    plan = make_plan(make_step("tips", Offset(days=1, at=time(10, 0)), condition="has_email"))
    result = enrol_at(session, clinic, patient, plan, now + timedelta(days=1), now)
    (row,) = rows(session, result.enrollment)
    assert row.status == MessageStatus.SKIPPED and "has_email" in (row.status_reason or "")


def test_identical_same_day_messages_of_two_enrolments_are_merged(session, factory, clinic, now):
    patient = consenting(factory, clinic, now)
    plan = make_plan(make_step("day1", Offset(days=1, at=time(10, 0))))
    first = enrol_at(session, clinic, patient, plan, now + timedelta(days=1), now)
    second = enrol_at(session, clinic, patient, plan, now + timedelta(days=1, hours=1), now)
    (kept,) = rows(session, first.enrollment)
    (merged,) = rows(session, second.enrollment)
    assert kept.status == MessageStatus.SCHEDULED
    assert merged.status == MessageStatus.SKIPPED
    assert merged.status_reason == f"merged with message {kept.id}"


def test_the_daily_cap_moves_excess_routine_messages_and_never_safety_ones(
    session, factory, clinic, now
):
    patient = consenting(factory, clinic, now)
    plan = make_plan(
        *[
            make_step(f"r{i}", Offset(days=1, at=time(9 + i, 0)), valid_for=timedelta(days=3))
            for i in range(3)
        ],
        make_step("safety", Offset(days=1, at=time(15, 0)), priority=Priority.SAFETY),
        make_step("stale", Offset(days=1, at=time(16, 0)), valid_for=timedelta(hours=2)),
        make_step("extra", Offset(days=1, at=time(17, 0)), valid_for=timedelta(days=3)),
    )
    result = enrol(
        session,
        clinic=clinic,
        patient=patient,
        plan=plan,
        procedure_at=now + timedelta(days=1),
        now=now,
        actor="user:1",
        daily_cap=3,
    )
    found = by_key(rows(session, result.enrollment))
    assert found["safety:0:sms"].status == MessageStatus.SCHEDULED
    assert found["stale:0:sms"].status == MessageStatus.SKIPPED
    assert "daily cap of 3" in (found["stale:0:sms"].status_reason or "")
    extra = found["extra:0:sms"]
    assert extra.status == MessageStatus.SCHEDULED
    assert extra.due_at.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 5, 17, 0)
    assert "moved 1 day(s) later" in (extra.status_reason or "")


def paced_clinic(factory, *, rate: float):
    clinic = factory.clinic(sms_from="+14155550166")
    sender = senders.find(factory.session, "sms", "+14155550166")
    sender.rate_per_second = rate
    return clinic


def test_a_clinics_batch_at_the_same_minute_is_paced_at_the_sender_rate(session, factory, now):
    clinic = paced_clinic(factory, rate=2.0)
    patients = [consenting(factory, clinic, now) for _ in range(3)]
    plan = make_plan(make_step("day1", Offset(days=1, at=time(10, 0))))
    procedure = now + timedelta(days=1)
    results = enrol_many(
        session,
        clinic=clinic,
        plan=plan,
        now=now,
        actor="user:1",
        requests=[EnrolRequest(p, procedure) for p in patients],
    )
    later = consenting(factory, clinic, now)
    last = enrol_at(session, clinic, later, plan, procedure, now)
    ids = [r.enrollment_id for r in results] + [last.enrollment.id]
    attempts = [session.exec(select(Message).where(Message.enrollment_id == i)).one() for i in ids]
    due = attempts[0].due_at
    assert all(m.due_at == due for m in attempts)
    offsets = [(m.next_attempt_at - due).total_seconds() for m in attempts]
    assert offsets == [0.0, 0.5, 1.0, 1.5]


def test_what_falls_due_while_paused_is_skipped_on_resume_not_replayed(
    session, factory, clinic, now
):
    patient = consenting(factory, clinic, now)
    result = enrol_at(session, clinic, patient, BASIC, now + timedelta(hours=1), now)
    pause(session, enrollment=result.enrollment, now=now, actor="user:1", reason="travelling")
    assert result.enrollment.status == EnrollmentStatus.PAUSED
    later = now + timedelta(days=2, hours=1)
    skipped = resume(session, enrollment=result.enrollment, now=later, actor="user:2")
    found = by_key(rows(session, result.enrollment))
    assert skipped == 3  # day0 and both day1 rows fell due while paused
    assert found["day1:0:email"].status == MessageStatus.SKIPPED
    assert (found["day1:0:email"].status_reason or "").startswith("paused")
    assert found["checkin:0:sms"].status == MessageStatus.SCHEDULED
    assert result.enrollment.status == EnrollmentStatus.ACTIVE
    actions = session.exec(select(AuditLog.action, AuditLog.actor, AuditLog.reason)).all()
    assert ("enrollment.pause", "user:1", "travelling") in actions
    assert ("enrollment.resume", "user:2", None) in actions


def test_cancel_closes_pending_rows_with_the_reason(session, factory, clinic, now):
    patient = consenting(factory, clinic, now)
    result = enrol_at(session, clinic, patient, BASIC, now + timedelta(days=1), now)
    sent = rows(session, result.enrollment)[0]
    transition(session, sent, MessageStatus.SENDING, reason=None, now=now)
    transition(session, sent, MessageStatus.SENT, reason=None, now=now)
    count = cancel(
        session, enrollment=result.enrollment, now=now, actor="user:1", reason="procedure cancelled"
    )
    assert count == result.messages - 1
    statuses = {m.status for m in rows(session, result.enrollment)}
    assert statuses == {MessageStatus.SENT, MessageStatus.CANCELLED}
    assert "procedure cancelled" in (rows(session, result.enrollment)[1].status_reason or "")


def test_reschedule_moves_unsent_rows_and_leaves_sent_ones(session, factory, clinic, now):
    patient = consenting(factory, clinic, now)
    procedure = now + timedelta(days=1)
    result = enrol_at(session, clinic, patient, BASIC, procedure, now)
    first = by_key(rows(session, result.enrollment))["day0:0:sms"]
    transition(session, first, MessageStatus.SENDING, reason=None, now=now)
    transition(session, first, MessageStatus.SENT, reason=None, now=now)
    sent_due = first.due_at
    moved = reschedule(
        session,
        clinic=clinic,
        enrollment=result.enrollment,
        plan=BASIC,
        procedure_at=procedure + timedelta(days=7),
        now=now,
        actor="user:1",
    )
    found = by_key(rows(session, result.enrollment))
    assert found["day0:0:sms"].due_at == sent_due
    assert moved.moved == result.messages - 1
    day1 = found["day1:0:sms"]
    assert day1.due_at.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 11, 10, 0)
    assert result.enrollment.procedure_at == procedure + timedelta(days=7)


def test_opt_out_cancels_pending_sms_but_not_email_or_compliance_replies(
    session, factory, clinic, now
):
    patient = consenting(factory, clinic, now)
    result = enrol_at(session, clinic, patient, BASIC, now + timedelta(days=1), now)
    reply = queue_message(
        session,
        clinic_id=clinic.id,
        channel="sms",
        body="You are unsubscribed.",
        kind=MessageKind.AUTO_REPLY,
        priority=Priority.URGENT,
        due_at=now,
        dedupe_key="stop:1",
        patient_id=patient.id,
    )
    loss = lose_sms(session, patient=patient, why="patient replied STOP", now=now)
    assert loss.cancelled == result.messages - 1
    found = by_key(rows(session, result.enrollment))
    assert found["day1:0:email"].status == MessageStatus.SCHEDULED
    assert found["day1:0:sms"].status_reason == "texts stopped: patient replied STOP"
    assert reply.status == MessageStatus.SCHEDULED
    assert result.enrollment.status == EnrollmentStatus.ACTIVE  # email continues


def test_losing_texts_keeps_the_enrolment_active_so_start_can_resume_it(
    session, factory, clinic, now
):
    patient = consenting(factory, clinic, now)
    plan = make_plan(make_step("day1", Offset(days=1, at=time(10, 0))))
    result = enrol_at(session, clinic, patient, plan, now + timedelta(days=1), now)
    lose_sms(session, patient=patient, why="STOP", now=now)
    assert result.enrollment.status == EnrollmentStatus.ACTIVE


def test_procedure_time_needs_an_offset_and_a_date_within_a_year(now):
    with pytest.raises(EnrolError, match="procedure_at: needs a UTC offset"):
        check_procedure_at(datetime(2026, 3, 3, 10, 0), now=now)
    with pytest.raises(EnrolError, match="procedure_at: must be within a year"):
        check_procedure_at(now + timedelta(days=400), now=now)
    assert check_procedure_at(datetime(2026, 3, 3, 10, 0, tzinfo=NY), now=now).tzinfo == UTC


def test_enrolment_is_audited_with_who_and_the_pinned_version(session, factory, clinic, now):
    patient = consenting(factory, clinic, now)
    result = enrol(
        session,
        clinic=clinic,
        patient=patient,
        plan=BASIC,
        procedure_at=now + timedelta(days=1),
        now=now,
        actor="api_key:7",
        reason="booked",
    )
    entry = session.exec(select(AuditLog).where(AuditLog.action == "enrollment.create")).one()
    assert (entry.actor, entry.reason, entry.entity_id) == (
        "api_key:7",
        "booked",
        result.enrollment.id,
    )
    assert entry.detail == {"plan": "test_plan", "version": 1, "patient_id": patient.id}
    assert result.enrollment.plan_version == 1


def test_a_row_the_dispatcher_held_while_paused_is_still_skipped_on_resume(
    session, factory, clinic, now
):
    patient = consenting(factory, clinic, now)
    plan = make_plan(make_step("day1", Offset(days=1, at=time(10, 0))))
    result = enrol_at(session, clinic, patient, plan, now + timedelta(hours=1), now)
    pause(session, enrollment=result.enrollment, now=now, actor="user:1")
    (row,) = rows(session, result.enrollment)
    later = row.due_at + timedelta(hours=5)
    row.next_attempt_at = later + timedelta(minutes=10)  # the dispatcher's hold
    assert resume(session, enrollment=result.enrollment, now=later, actor="user:1") == 1
    assert row.status == MessageStatus.SKIPPED


def test_pacing_never_spreads_a_batch_into_quiet_hours(session, factory, now):
    clinic = paced_clinic(factory, rate=0.01)  # one text every 100 seconds
    patients = [consenting(factory, clinic, now) for _ in range(5)]
    plan = make_plan(make_step("evening", Offset(days=1, at=time(19, 55))))
    requests = [EnrolRequest(p, now + timedelta(days=1)) for p in patients]
    results = enrol_many(session, clinic=clinic, plan=plan, now=now, actor="t", requests=requests)
    attempts = sorted(
        session.exec(select(Message).where(Message.enrollment_id == r.enrollment_id))
        .one()
        .next_attempt_at.astimezone(NY)
        .replace(tzinfo=None)
        for r in results
    )
    assert attempts[:3] == [
        datetime(2026, 3, 4, 19, 55),
        datetime(2026, 3, 4, 19, 56, 40),
        datetime(2026, 3, 4, 19, 58, 20),
    ]
    assert attempts[3:] == [datetime(2026, 3, 5, 8, 0)] * 2


def test_a_late_spanish_catch_up_names_the_plans_warning_signs_with_their_routes(
    session, factory, clinic, now
):
    from service.config import DEFAULT_TEMPLATES_DIR
    from service.plans.catalog import load_catalog

    botox = load_catalog(DEFAULT_TEMPLATES_DIR).get("botox")
    patient = consenting(factory, clinic, now)
    patient.language = "es"
    session.commit()
    result = enrol_at(session, clinic, patient, botox, now - timedelta(days=2, hours=3), now)
    (catch_up,) = rows(session, result.enrollment, kind=MessageKind.CATCH_UP)
    body = catch_up.body or ""
    assert "Llame ya al 911 si nota dificultad para respirar, tragar o hablar" in body
    assert "Llamenos ya al (415) 555-0100 si nota vision doble o borrosa" in body  # GSM-7
    assert "parpado" not in body  # the call-today signs come with the plan's own texts
    assert "(415) 555-0100" in body  # the clinic's number as the patient dials it
