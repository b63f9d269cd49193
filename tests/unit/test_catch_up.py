"""Catch-ups that tell the truth, and advice that is only true for a few hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from service.config import DEFAULT_TEMPLATES_DIR
from service.db.models import Message
from service.domain import MessageKind, MessageStatus
from service.plans.lint import lint_dir
from service.plans.loader import parse_step
from service.plans.model import PlanError

NY = ZoneInfo("America/New_York")


def enrolled(session: Session, factory, procedure_at: datetime, now: datetime, plan="botox"):  # type: ignore[no-untyped-def]
    clinic = factory.clinic()
    patient = factory.patient(clinic, sms_consent_at=now, email_consent_at=now)
    factory.enrol(clinic, patient, procedure_at=procedure_at, now=now, plan=plan)
    return list(session.exec(select(Message).order_by(col(Message.due_at), col(Message.id))))


def catch_up(rows: list[Message]) -> Message:
    [row] = [m for m in rows if m.kind == MessageKind.CATCH_UP]
    return row


def test_a_late_catch_up_says_when_the_next_message_is_due(session, factory, now) -> None:
    rows = enrolled(session, factory, now - timedelta(days=2), now)
    body = catch_up(rows).body or ""
    assert "the first tips for your botulinum toxin injections are behind you" in body
    assert "Next message: March 3." in body and "start now" not in body


def test_with_nothing_left_the_catch_up_says_so_with_the_clinics_number(
    session, factory, now
) -> None:
    rows = enrolled(session, factory, now - timedelta(days=120), now)
    body = catch_up(rows).body or ""
    assert "No more messages are planned; call us with any question." in body
    assert "Clinic: (415) 555-0100" in body and "Next message" not in body


def test_advice_true_for_four_hours_is_not_sent_to_a_patient_enrolled_five_hours_later(
    session, factory, now
) -> None:
    rows = enrolled(session, factory, now - timedelta(hours=5), now)
    day0 = [m for m in rows if m.step_key == "day0_expect"]
    assert {m.status for m in day0} == {MessageStatus.SKIPPED}
    # Its 12h delivery window is still open, but its 4h advice window has closed.
    assert all((m.status_reason or "").startswith("too late to be useful") for m in day0)
    assert catch_up(rows).due_at == now  # the red flags reach the patient anyway


def test_advice_pushed_past_its_hours_by_the_night_is_skipped_and_the_catch_up_waits(
    session, factory, now
) -> None:
    # day0 due 23:30, inside its own night (23:00-07:00): 07:00 is past its 4 hours.
    procedure = datetime(2026, 3, 5, 22, 30, tzinfo=NY)
    rows = enrolled(session, factory, procedure, now)
    day0 = [m for m in rows if m.step_key == "day0_expect"]
    assert {m.status for m in day0} == {MessageStatus.SKIPPED}
    assert "its advice is only true until 4h after the procedure" in (day0[0].status_reason or "")
    # Not now, days before the procedure: when the skipped message would have gone (the
    # catch-up keeps the clinic's own night, to 08:00).
    assert catch_up(rows).due_at == datetime(2026, 3, 6, 13, 0, tzinfo=UTC)


def test_within_its_hours_the_advice_goes_and_is_never_valid_past_them(
    session, factory, now
) -> None:
    procedure = datetime(2026, 3, 5, 10, 0, tzinfo=NY)
    rows = enrolled(session, factory, procedure, now)
    day0 = [m for m in rows if m.step_key == "day0_expect"]
    assert {m.status for m in day0} == {MessageStatus.SCHEDULED}
    assert {m.valid_until for m in day0} == {procedure + timedelta(hours=4)}
    assert not [m for m in rows if m.kind == MessageKind.CATCH_UP]


def test_true_until_is_an_offset_from_the_procedure() -> None:
    step = parse_step(
        {"key": "s", "when": "1h", "valid_for": "12h", "channels": "sms", "true_until": "4h"}
    )
    assert step.true_until is not None and step.true_until.hours == 4
    with pytest.raises(PlanError, match="true_until"):
        parse_step(
            {"key": "s", "when": "1h", "valid_for": "12h", "channels": "sms", "true_until": "soon"}
        )


def test_the_linter_refuses_advice_that_is_never_true_when_sent(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(DEFAULT_TEMPLATES_DIR, tmp_path / "t")
    plan = tmp_path / "t" / "plans" / "botox.yaml"
    plan.write_text(plan.read_text().replace("true_until: 4h", "true_until: 1h"))
    errors = [f for f in lint_dir(tmp_path / "t") if f.severity == "error"]
    assert [(f.plan, f.step) for f in errors] == [("botox", "day0_expect")]
    assert "true_until 1h is not after when 1h" in errors[0].message
