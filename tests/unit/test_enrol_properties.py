"""Property tests (hypothesis) for enrolment over random zones, dates and plans.

- no routine message is due (or first attempted) inside quiet hours, no safety one at night;
- the order of steps is preserved;
- enrolling again is idempotent;
- rescheduling equals a fresh enrolment at the new anchor for every unsent message.
Each example runs on its own in-memory SQLite database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, col, select

from service.db.models import Clinic, Enrollment, Message, Patient
from service.domain import Channel, MessageKind, MessageStatus, Priority
from service.enrollment import enrol, reschedule
from service.plans.model import Offset, Plan
from service.scheduling import QuietHours
from tests.factories import Factory
from tests.unit.test_enrol import make_plan, make_step

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ZONES = [
    "America/New_York",
    "Europe/London",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Auckland",
]
CHANNELS = [(Channel.SMS,), (Channel.EMAIL,), (Channel.SMS, Channel.EMAIL)]


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    count = draw(st.integers(1, 6))
    offsets = sorted(
        draw(
            st.lists(
                st.tuples(st.integers(0, 40), st.integers(0, 23), st.sampled_from([0, 30])),
                min_size=count,
                max_size=count,
                unique=True,
            )
        )
    )
    steps = []
    for i, (days, hour, minute) in enumerate(offsets):
        repeat = draw(st.booleans()) and i == len(offsets) - 1
        steps.append(
            make_step(
                f"s{i}",
                Offset(days=days, at=time(hour, minute)),
                valid_for=timedelta(hours=draw(st.integers(2, 72))),
                channels=draw(st.sampled_from(CHANNELS)),
                priority=draw(st.sampled_from([Priority.ROUTINE, Priority.SAFETY])),
                repeat_every=Offset(days=draw(st.integers(1, 4))) if repeat else None,
                repeat_until=Offset(days=days + 10) if repeat else None,
            )
        )
    return make_plan(*steps)


procedures = st.integers(-20 * 24, 60 * 24).map(lambda h: NOW + timedelta(hours=h, minutes=7))
zones = st.sampled_from(ZONES)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def database() -> Iterator[Session]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    SQLModel.metadata.create_all(engine)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


def setup(session: Session, zone: str) -> tuple[Clinic, Patient]:
    factory = Factory(session)
    clinic = factory.clinic(timezone="America/New_York")
    patient = factory.patient(clinic, timezone=zone, sms_consent_at=NOW, email_consent_at=NOW)
    return clinic, patient


def plan_rows(session: Session, enrollment: Enrollment) -> list[Message]:
    query = select(Message).where(
        Message.enrollment_id == enrollment.id, Message.kind == MessageKind.PLAN
    )
    return list(session.exec(query.order_by(col(Message.id))))


def enrol_uncapped(session, clinic, patient, plan, procedure_at):  # type: ignore[no-untyped-def]
    """Enrol at NOW with a cap high enough that only the rule under test shapes the rows."""
    return enrol(session, clinic=clinic, patient=patient, plan=plan, procedure_at=procedure_at,
                 now=NOW, actor="test", daily_cap=50)  # fmt: skip


def in_window(instant: datetime, zone: str, window: QuietHours) -> bool:
    return window.contains(instant.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None))


@SETTINGS
@given(plan=plans(), zone=zones, procedure=procedures)
def test_no_routine_message_is_scheduled_inside_quiet_hours(plan, zone, procedure):
    with database() as session:
        clinic, patient = setup(session, zone)
        result = enrol_uncapped(session, clinic, patient, plan, procedure)
        quiet = QuietHours(clinic.quiet_start, clinic.quiet_end)
        night = QuietHours(clinic.night_start, clinic.night_end)
        for row in plan_rows(session, result.enrollment):
            if row.status != MessageStatus.SCHEDULED:
                continue
            window = quiet if row.priority == Priority.ROUTINE else night
            assert not in_window(row.due_at, zone, window), row
            assert not in_window(row.next_attempt_at, zone, window), row
            assert row.next_attempt_at >= NOW


@SETTINGS
@given(plan=plans(), zone=zones, procedure=procedures)
def test_step_order_is_preserved(plan, zone, procedure):
    with database() as session:
        clinic, patient = setup(session, zone)
        result = enrol_uncapped(session, clinic, patient, plan, procedure)
        order = {(o.step.key, o.index): n for n, o in enumerate(plan.occurrences())}
        rows = sorted(
            plan_rows(session, result.enrollment), key=lambda m: order[(m.step_key, m.occurrence)]
        )
        dues = [m.due_at for m in rows]
        assert dues == sorted(dues)


@SETTINGS
@given(plan=plans(), zone=zones, procedure=procedures)
def test_enrolling_twice_is_idempotent(plan, zone, procedure):
    with database() as session:
        clinic, patient = setup(session, zone)
        first = enrol(
            session,
            clinic=clinic,
            patient=patient,
            plan=plan,
            procedure_at=procedure,
            now=NOW,
            actor="test",
        )
        before = len(session.exec(select(Message)).all())
        again = enrol(
            session,
            clinic=clinic,
            patient=patient,
            plan=plan,
            procedure_at=procedure,
            now=NOW + timedelta(minutes=5),
            actor="test",
        )
        assert not again.created and again.enrollment.id == first.enrollment.id
        assert len(session.exec(select(Message)).all()) == before


def unsent(session: Session, enrollment: Enrollment) -> dict[tuple[str | None, int, str], tuple]:
    """The latest row per (step, occurrence, channel), for those still to be sent."""
    latest = {(m.step_key, m.occurrence, m.channel): m for m in plan_rows(session, enrollment)}
    return {
        key: (m.due_at, m.next_attempt_at, m.valid_until)
        for key, m in latest.items()
        if m.status == MessageStatus.SCHEDULED
    }


@SETTINGS
@given(plan=plans(), zone=zones, first=procedures, second=procedures)
def test_reschedule_equals_a_fresh_enrolment_for_unsent_messages(plan, zone, first, second):
    with database() as session:
        clinic, patient = setup(session, zone)
        result = enrol(
            session,
            clinic=clinic,
            patient=patient,
            plan=plan,
            procedure_at=first,
            now=NOW,
            actor="test",
        )
        reschedule(
            session,
            clinic=clinic,
            enrollment=result.enrollment,
            plan=plan,
            procedure_at=second,
            now=NOW,
            actor="test",
        )
        moved = unsent(session, result.enrollment)
    with database() as session:
        clinic, patient = setup(session, zone)
        fresh = enrol(
            session,
            clinic=clinic,
            patient=patient,
            plan=plan,
            procedure_at=second,
            now=NOW,
            actor="test",
        )
        assert moved == unsent(session, fresh.enrollment)
