"""The first safety message after a late procedure goes the same evening (its step's own
night edges), at enrolment and in the plan's timeline; later messages keep the clinic's."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from service.config import DEFAULT_TEMPLATES_DIR
from service.enrollment.rows import message_row
from service.enrollment.schedule import Recipient, Windows, plan_schedule
from service.plans.catalog import load_catalog
from service.plans.loader import parse_step
from service.plans.model import PlanError
from service.scheduling import QuietHours

NY = ZoneInfo("America/New_York")
WINDOWS = Windows(quiet=QuietHours(time(20), time(8)), night=QuietHours(time(21), time(8)))
RECIPIENT = Recipient(tz=NY, has_phone=True, has_email=True, sms_blocked=None, email_blocked=None)


def test_a_filler_at_21_00_gets_its_warning_signs_at_22_00_not_the_next_morning() -> None:
    plan = load_catalog(DEFAULT_TEMPLATES_DIR).get("dermal_filler")
    procedure = datetime(2026, 3, 5, 21, 0, tzinfo=NY)
    planned = plan_schedule(
        plan, procedure_at=procedure, recipient=RECIPIENT, windows=WINDOWS,
        now=datetime(2026, 3, 1, tzinfo=UTC),
    )  # fmt: skip
    first = next(p for p in planned if p.step_key == "day0_expect")
    assert first.due_at.astimezone(NY) == datetime(2026, 3, 5, 22, 0, tzinfo=NY)
    check = next(p for p in planned if p.step_key == "day0_skin_check")
    assert check.due_at.astimezone(NY) == datetime(2026, 3, 6, 8, 0, tzinfo=NY)  # clinic night
    row = message_row(
        first, clinic_id=1, patient_id=2, enrollment_id=3, language="en", now=procedure
    )
    assert row["context"] == {"night_window": "23:00-07:00"}  # the dispatcher re-checks it


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"night": "23:00-07:00"}, "only the first safety message on day 0"),
        ({"night": "late", "priority": "safety", "when": "3h"}, "HH:MM-HH:MM"),
    ],
)
def test_a_night_on_anything_but_a_day0_safety_step_is_refused(extra, message) -> None:
    step = {"key": "a", "when": "1d at 10:00", "valid_for": "1d", "channels": "sms", **extra}
    with pytest.raises(PlanError, match=message):
        parse_step(step)
