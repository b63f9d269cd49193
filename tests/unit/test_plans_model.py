"""Plan data: offsets, durations, repeats, parsing and the shipped catalog."""

from __future__ import annotations

import datetime

import pytest

from service.config import DEFAULT_TEMPLATES_DIR
from service.domain import Channel, Priority
from service.plans.catalog import load_catalog
from service.plans.loader import PlanDefinitionError, parse_plan, parse_step
from service.plans.model import Offset, PlanError, UnknownPlan, parse_duration, parse_offset

CONTRACT_KEYS = [
    "botox", "dermal_filler", "microneedling", "rf_skin_tightening", "surgery", "thread_lift",
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4h", Offset(hours=4)),
        ("1d at 10:00", Offset(days=1, at=datetime.time(10, 0))),
        ("2w at 18:00", Offset(weeks=2, at=datetime.time(18, 0))),
        ("6mo", Offset(months=6)),
        ("0d at 18:00", Offset(at=datetime.time(18, 0))),
        ("1w 2d", Offset(weeks=1, days=2)),
        ("90min", Offset(minutes=90)),
        ("  3D AT 7:05 ", Offset(days=3, at=datetime.time(7, 5))),
    ],
)
def test_parse_offset_reads_the_plan_vocabulary(text: str, expected: Offset) -> None:
    assert parse_offset(text) == expected


@pytest.mark.parametrize(
    "text", ["", "tomorrow", "1y", "1d at 25:00", "1d at 10:61", "2h at 10:00", "1d 1d", "-1d"]
)
def test_parse_offset_rejects_bad_text_with_a_clear_message(text: str) -> None:
    with pytest.raises(PlanError, match="offset"):
        parse_offset(text)


def test_parse_offset_asks_for_quotes_when_yaml_gave_a_number() -> None:
    with pytest.raises(PlanError, match="quote it"):
        parse_offset(600)  # type: ignore[arg-type]  # YAML 1.1 reads 10:00 as 600


def test_offsets_print_back_as_they_are_written() -> None:
    for text in ["4h", "1d at 10:00", "2w at 18:00", "6mo", "0d at 18:00", "1w 2d"]:
        assert str(parse_offset(text)) == text


def test_durations_are_fixed_lengths() -> None:
    assert parse_duration("2d") == datetime.timedelta(days=2)
    assert parse_duration("12h") == datetime.timedelta(hours=12)
    for bad in ["1mo", "1d at 10:00", "0d"]:
        with pytest.raises(PlanError, match="duration"):
            parse_duration(bad)


def _step(**extra: object) -> dict[str, object]:
    return {"key": "s", "when": "1d at 17:00", "valid_for": "12h", "channels": "sms", **extra}


def test_a_repeat_runs_until_the_whole_last_day() -> None:
    step = parse_step(_step(repeat={"every": "3d", "until": "13d"}))
    offsets = [str(o.offset) for o in step.occurrences()]
    assert offsets == [
        "1d at 17:00", "4d at 17:00", "7d at 17:00", "10d at 17:00", "13d at 17:00",
    ]  # fmt: skip
    assert [o.index for o in step.occurrences()] == [0, 1, 2, 3, 4]


def test_a_step_without_repeat_happens_once() -> None:
    assert len(parse_step(_step()).occurrences()) == 1


def test_parse_step_reads_channels_fallback_priority_and_condition() -> None:
    step = parse_step(
        _step(channels="sms", fallback="email", priority="safety", condition="has_phone")
    )
    assert step.channels == (Channel.SMS,)
    assert step.fallback is Channel.EMAIL
    assert step.priority is Priority.SAFETY
    assert step.condition == "has_phone"
    assert parse_step(_step(channels="both")).channels == (Channel.SMS, Channel.EMAIL)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"channels": "fax"}, "unknown channel 'fax'"),
        ({"channels": "both", "fallback": "email"}, "fallback"),
        ({"priority": "urgent"}, "priority"),
        ({"condition": "is_vip"}, "condition"),
        ({"repeat": {"every": "3d"}}, "repeat"),
        ({"valid_for": "0h"}, "valid_for"),
        ({"colour": "red"}, "unknown field"),
    ],
)
def test_parse_step_names_the_bad_field(extra: dict[str, object], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        parse_step(_step(**extra))


def test_parse_plan_lists_every_problem_with_its_step() -> None:
    definition = {
        "key": "demo",
        "version": 1,
        "languages": ["en"],
        "steps": [_step(key="a"), _step(key="a"), _step(key="b", when="soon")],
    }
    with pytest.raises(PlanDefinitionError) as info:
        parse_plan(definition, {})
    errors = info.value.errors
    assert ("a", "duplicate step key (each step key must be unique)") in errors
    assert any(step == "b" and "when" in msg for step, msg in errors)
    assert any(step is None and msg.startswith("red_flags:") for step, msg in errors)


def test_the_catalog_ships_the_six_contract_plans_in_english_and_spanish() -> None:
    catalog = load_catalog(DEFAULT_TEMPLATES_DIR)
    assert catalog.keys() == CONTRACT_KEYS
    for plan in catalog.all():
        assert plan.languages == ("en", "es")
        assert len(plan.sha256) == 64
        assert plan.step("day0_expect").offset.calendar_days == 0
        assert any(step.expects_reply for step in plan.steps)
        assert any(step.priority is Priority.SAFETY and step.repeat_every for step in plan.steps)


def test_surgery_checks_numbness_at_three_six_and_twelve_months() -> None:
    plan = load_catalog(DEFAULT_TEMPLATES_DIR).get("surgery")
    months = sorted(s.offset.months for s in plan.steps if s.offset.months and s.expects_reply)
    assert months == [3, 6, 12]


def test_an_unknown_plan_is_a_clear_error() -> None:
    with pytest.raises(UnknownPlan, match=r"unknown plan 'facelift'.*surgery"):
        load_catalog(DEFAULT_TEMPLATES_DIR).get("facelift")


def test_a_plan_names_a_missing_step() -> None:
    plan = load_catalog(DEFAULT_TEMPLATES_DIR).get("botox")
    with pytest.raises(PlanError, match="no step 'nope'"):
        plan.step("nope")


def test_occurrences_expand_repeats_in_plan_order() -> None:
    plan = load_catalog(DEFAULT_TEMPLATES_DIR).get("surgery")
    keys = [occ.step.key for occ in plan.occurrences()]
    assert keys[:3] == ["day0_expect", "day1_care", "day2_checkin"]
    assert keys.count("red_flag_reminder") == 4  # days 4, 7, 10 and 13


def test_filler_routes_skin_colour_to_the_clinic_now_and_vision_to_the_emergency_number() -> None:
    plan = load_catalog(DEFAULT_TEMPLATES_DIR).get("dermal_filler")
    assert plan.red_flag("skin_colour").route == "clinic_now"
    assert plan.red_flag("vision").route == "emergency"
    english = plan.red_flag("skin_colour").texts["en"].text.lower()
    for words in ["turns pale or white", "blue", "blotchy like lace"]:
        assert words in english  # plain words, not "dusky" or "mottled"
    keys = {item.key for item in plan.red_flag_items}
    assert {"stroke", "allergy", "skin_cold", "blisters", "infection"} <= keys
    assert "numbing medicine" in plan.red_flag("pain").texts["en"].text
    assert plan.step("day0_expect").priority is Priority.SAFETY


def test_a_plan_pinned_before_routes_existed_still_loads_and_renders_its_summary() -> None:
    definition = {
        "key": "old",
        "version": 1,
        "languages": ["en"],
        "red_flags": {"en": {"summary": "pus or fever", "items": ["Pus", "A fever"]}},
        "steps": [_step(key="a")],
    }
    plan = parse_plan(definition, {})
    assert plan.red_flags["en"].legacy_summary == "pus or fever"
    assert plan.red_flags["en"].items == ("Pus", "A fever")
    assert plan.red_flag_items == ()


def test_nerve_plans_say_tingling_is_normal_in_week_two() -> None:
    catalog = load_catalog(DEFAULT_TEMPLATES_DIR)
    for key in ["surgery", "thread_lift"]:
        plan = catalog.get(key)
        step = plan.step("week2_nerves")
        assert step.offset.weeks == 2
        assert "tingling" in plan.templates[f"{key}/week2_nerves.sms.en.j2"]
        assert "hormigueo" in plan.templates[f"{key}/week2_nerves.sms.es.j2"]
