"""The last checks before a provider call: pure, decided from the rows and `now`."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from service.db.models import Clinic, Enrollment, Message, Patient
from service.dispatch.checks import Action, Subject, check
from service.domain import Channel, EnrollmentStatus, MessageKind, Priority

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York
HOLD = timedelta(minutes=15)


def clinic() -> Clinic:
    return Clinic(
        id=1,
        name="C",
        slug="c",
        contact_phone="+14155550100",
        quiet_start=time(20),
        quiet_end=time(8),
        night_start=time(21),
        night_end=time(8),
    )


def patient(**overrides: object) -> Patient:
    values: dict[str, object] = {
        "id": 7,
        "clinic_id": 1,
        "first_name": "Ana",
        "phone": "+14155550123",
        "email": "ana@example.test",
        "timezone": "America/New_York",
        "sms_consent_at": NOW - timedelta(days=1),
        "email_consent_at": NOW - timedelta(days=1),
    }
    values.update(overrides)
    return Patient(**values)


def message(**overrides: object) -> Message:
    values: dict[str, object] = {
        "id": 3,
        "dedupe_key": "k",
        "clinic_id": 1,
        "patient_id": 7,
        "enrollment_id": 5,
        "kind": MessageKind.PLAN,
        "channel": Channel.SMS,
        "priority": Priority.ROUTINE,
        "due_at": NOW,
        "next_attempt_at": NOW,
        "valid_until": NOW + timedelta(days=1),
    }
    values.update(overrides)
    return Message(**values)


def enrollment(status: str = EnrollmentStatus.ACTIVE) -> Enrollment:
    return Enrollment(
        id=5,
        clinic_id=1,
        patient_id=7,
        plan_key="botox",
        plan_version=1,
        procedure_at=NOW - timedelta(days=1),
        status=status,
    )


def verdict(
    msg: Message | None = None,
    pat: Patient | None = None,
    *,
    now: datetime = NOW,
    enr: Enrollment | None = None,
    alert: bool = False,
):
    subject = Subject(msg or message(), pat or patient(), enr or enrollment(), clinic(), alert)
    return check(subject, now=now, hold=HOLD)


def test_a_due_message_to_a_consenting_patient_is_sent() -> None:
    assert verdict().action == Action.SEND


def test_no_sms_leaves_after_the_patient_opted_out() -> None:
    result = verdict(pat=patient(sms_opted_out_at=NOW - timedelta(seconds=1)))
    assert result.action == Action.CANCEL
    assert "opted out" in (result.reason or "")


@pytest.mark.parametrize("kind", [MessageKind.AUTO_REPLY, MessageKind.CATCH_UP])
def test_opt_out_is_absolute_for_every_kind_of_patient_sms(kind: MessageKind) -> None:
    result = verdict(message(kind=kind), patient(sms_opted_out_at=NOW))
    assert result.action == Action.CANCEL


def test_the_stop_confirmation_is_the_one_sms_that_still_leaves_after_stop() -> None:
    confirmation = message(
        kind=MessageKind.AUTO_REPLY,
        priority=Priority.URGENT,
        context={"compliance": "stop_confirmation"},
    )
    other_reply = message(kind=MessageKind.AUTO_REPLY, priority=Priority.URGENT)
    opted_out = patient(sms_opted_out_at=NOW)
    assert verdict(confirmation, opted_out).action == Action.SEND
    assert verdict(other_reply, opted_out).action == Action.CANCEL


def test_a_page_to_on_call_staff_is_not_stopped_by_the_patients_opt_out() -> None:
    page = message(kind=MessageKind.PAGE, priority=Priority.URGENT, to_address="+14155559999")
    assert verdict(page, patient(sms_opted_out_at=NOW)).action == Action.SEND


def test_plan_sms_without_recorded_consent_fails_with_the_reason() -> None:
    result = verdict(pat=patient(sms_consent_at=None))
    assert (result.action, result.reason) == (Action.FAIL, "no SMS consent recorded")


def test_an_auto_reply_needs_no_prior_consent() -> None:
    msg = message(kind=MessageKind.AUTO_REPLY, priority=Priority.URGENT)
    assert verdict(msg, patient(sms_consent_at=None)).action == Action.SEND


def test_email_after_unsubscribe_is_cancelled() -> None:
    msg = message(channel=Channel.EMAIL)
    assert verdict(msg, patient(email_opted_out_at=NOW)).action == Action.CANCEL


def test_a_landline_cannot_get_sms() -> None:
    assert verdict(pat=patient(phone_can_sms=False)).action == Action.FAIL


def test_a_cancelled_enrolment_cancels_its_messages() -> None:
    assert verdict(enr=enrollment(EnrollmentStatus.CANCELLED)).action == Action.CANCEL


def test_a_paused_enrolment_holds_its_messages_for_a_while() -> None:
    result = verdict(enr=enrollment(EnrollmentStatus.PAUSED))
    assert (result.action, result.until) == (Action.HOLD, NOW + HOLD)


def test_stale_advice_is_skipped_never_sent_late() -> None:
    result = verdict(message(valid_until=NOW - timedelta(seconds=1)))
    assert result.action == Action.SKIP
    assert "validity" in (result.reason or "")


def test_routine_sms_inside_quiet_hours_moves_to_the_end_of_the_window() -> None:
    late = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)  # 21:30 in New York
    result = verdict(message(valid_until=late + timedelta(days=2)), now=late)
    assert result.action == Action.HOLD
    assert result.until == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)  # 08:00 EST


def test_quiet_hours_end_after_validity_skips_instead() -> None:
    late = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
    result = verdict(message(valid_until=late + timedelta(hours=1)), now=late)
    assert result.action == Action.SKIP


def test_safety_messages_may_use_the_evening_but_not_the_night() -> None:
    evening = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)  # 20:30 in New York
    night = datetime(2026, 3, 3, 3, 30, tzinfo=UTC)  # 22:30
    safety = message(priority=Priority.SAFETY, valid_until=NOW + timedelta(days=3))
    assert verdict(safety, now=evening).action == Action.SEND
    assert verdict(safety, now=night).action == Action.HOLD


def test_urgent_replies_ignore_quiet_hours() -> None:
    night = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)  # 02:00 in New York
    msg = message(kind=MessageKind.AUTO_REPLY, priority=Priority.URGENT, valid_until=None)
    assert verdict(msg, now=night).action == Action.SEND


def test_routine_plan_messages_wait_while_the_patient_has_an_open_alert() -> None:
    assert verdict(alert=True).action == Action.HOLD
    safety = message(priority=Priority.SAFETY)
    assert verdict(safety, alert=True).action == Action.SEND


def test_the_first_safety_message_uses_the_night_edges_its_step_declared() -> None:
    late = datetime(2026, 3, 3, 3, 30, tzinfo=UTC)  # 22:30 in New York
    context = {"night_window": "23:00-07:00"}
    first = message(priority=Priority.SAFETY, valid_until=NOW + timedelta(days=3), context=context)
    assert verdict(first, now=late).action == Action.SEND
    midnight = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)  # 00:00: inside even those edges
    assert verdict(first, now=midnight).action == Action.HOLD
    routine = message(valid_until=NOW + timedelta(days=3), context=context)
    assert verdict(routine, now=late).action == Action.HOLD  # a routine row ignores it
