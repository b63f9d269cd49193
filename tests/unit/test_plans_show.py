"""`aftercare plans show`: the plan simulator staff read before going live."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from service.cli import app
from service.config import DEFAULT_TEMPLATES_DIR
from service.domain import Channel
from service.plans.catalog import load_catalog
from service.plans.lint_checks import sample_context
from service.plans.timeline import simulate
from service.rendering import Renderer
from service.scheduling import QuietHours

NEW_YORK = ZoneInfo("America/New_York")
QUIET = QuietHours(time(20, 0), time(8, 0))
NIGHT = QuietHours(time(21, 0), time(8, 0))


def rows_for(key: str, procedure_at: datetime, language: str = "en"):  # type: ignore[no-untyped-def]
    return simulate(
        load_catalog(DEFAULT_TEMPLATES_DIR).get(key),
        procedure_at=procedure_at, tz=NEW_YORK, quiet=QUIET, night=NIGHT,
        renderer=Renderer(DEFAULT_TEMPLATES_DIR), context=sample_context(language),
        language=language,
    )  # fmt: skip


def test_a_late_evening_procedure_moves_the_first_message_out_of_the_night() -> None:
    rows = rows_for("thread_lift", datetime(2026, 3, 7, 20, 30, tzinfo=NEW_YORK))
    first = rows[0]
    assert first.occurrence.step.key == "day0_expect" and first.moved
    # 23:30 EST is inside the step's own night (23:00-07:00); 07:00 on the 8th is
    # already EDT (DST began).
    assert first.planned_at == datetime(2026, 3, 8, 4, 30, tzinfo=UTC)
    assert first.due_at == datetime(2026, 3, 8, 11, 0, tzinfo=UTC)
    assert first.valid_until == datetime(2026, 3, 9, 11, 0, tzinfo=UTC)


def test_the_first_safety_message_after_an_evening_procedure_goes_the_same_evening() -> None:
    rows = rows_for("thread_lift", datetime(2026, 3, 7, 19, 30, tzinfo=NEW_YORK))
    first = rows[0]
    assert first.occurrence.step.key == "day0_expect" and not first.moved
    assert first.due_at.astimezone(NEW_YORK) == datetime(2026, 3, 7, 22, 30, tzinfo=NEW_YORK)


def test_rows_come_in_time_order_with_every_repeat() -> None:
    rows = rows_for("surgery", datetime(2026, 3, 2, 9, 0, tzinfo=NEW_YORK))
    assert [r.due_at for r in rows] == sorted(r.due_at for r in rows)
    reminders = [r for r in rows if r.occurrence.step.key == "red_flag_reminder"]
    assert [r.due_at.astimezone(NEW_YORK).day for r in reminders] == [6, 9, 12, 15]
    assert {r.channel for r in rows if r.occurrence.step.key == "day0_expect"} == {
        Channel.SMS, Channel.EMAIL,
    }  # fmt: skip


def test_the_cli_prints_local_and_utc_times_channel_priority_validity_and_text() -> None:
    args = ["plans", "show", "dermal_filler", "--procedure-at", "2026-03-05T11:00",
            "--tz", "America/New_York"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Dermal filler aftercare (dermal_filler v2" in out
    assert "Thu 2026-03-05 12:00 EST  (2026-03-05 17:00Z)  sms   day0_expect" in out
    assert "[safety, valid 12h]" in out
    assert "Reply STOP to opt out, HELP for help." in out
    assert "Subject: After your filler treatment: important warning signs" in out


def test_the_cli_shows_spanish_text() -> None:
    args = ["plans", "show", "microneedling", "--procedure-at", "2026-03-05T11:00-05:00",
            "--lang", "es"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Responda STOP para salir, HELP para ayuda." in result.output


def test_the_cli_rejects_an_unknown_plan_zone_or_date() -> None:
    runner = CliRunner()
    cases = [
        (["plans", "show", "facelift"], "unknown plan 'facelift'"),
        (["plans", "show", "botox", "--tz", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["plans", "show", "botox", "--procedure-at", "soon"], "--procedure-at: 'soon'"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and message in result.output, result.output
