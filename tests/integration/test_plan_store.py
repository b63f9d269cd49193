"""Pinning plan versions: the frozen copy enrolments render from (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from service.config import DEFAULT_TEMPLATES_DIR
from service.db.models import PlanVersion
from service.domain import Channel
from service.plans import store
from service.plans.catalog import load_catalog
from service.plans.loader import parse_plan
from service.plans.model import Plan, PlanError, UnknownPlan
from service.plans.store import load_pinned, pin_plan
from service.rendering import Renderer, message_context

pytestmark = pytest.mark.parallel


@pytest.fixture
def plan() -> Plan:
    return load_catalog(DEFAULT_TEMPLATES_DIR).get("thread_lift")


def edited(plan: Plan, name: str, source: str) -> Plan:
    """The same key and version with one template changed, as a careless edit would be."""
    return parse_plan(plan.definition, {**plan.templates, name: source})


def test_pinning_stores_the_definition_and_templates_once(session: Session, plan: Plan) -> None:
    first = pin_plan(session, plan)
    again = pin_plan(session, plan)
    assert first.id == again.id
    assert (first.key, first.version, first.sha256) == ("thread_lift", 2, plan.sha256)
    assert first.templates == dict(plan.templates)
    assert len(session.exec(select(PlanVersion)).all()) == 1


def test_a_changed_plan_under_the_same_version_is_refused(session: Session, plan: Plan) -> None:
    pin_plan(session, plan)
    changed = edited(plan, "thread_lift/day1_care.sms.en.j2", "New text {{ emergency_phone }}")
    assert changed.sha256 != plan.sha256
    with pytest.raises(PlanError, match=r"changed since it was first used.*new version"):
        pin_plan(session, changed)


def test_a_new_version_is_pinned_alongside_the_old(session: Session, plan: Plan) -> None:
    pin_plan(session, plan)
    newer = parse_plan({**plan.definition, "version": 3}, plan.templates)
    pin_plan(session, newer)
    assert load_pinned(session, "thread_lift", 2).version == 2
    assert load_pinned(session, "thread_lift", 3).version == 3


def test_load_pinned_rebuilds_the_same_plan(session: Session, plan: Plan) -> None:
    pin_plan(session, plan)
    session.commit()
    loaded = load_pinned(session, "thread_lift", 2)
    assert loaded.sha256 == plan.sha256
    assert loaded.steps == plan.steps
    assert loaded.red_flags == plan.red_flags


def test_rendering_uses_the_pinned_copy_after_the_files_change(
    session: Session, plan: Plan
) -> None:
    pinned_source = "Pinned: {{ patient_first_name }}. Emergency {{ emergency_phone }}."
    original = edited(plan, "thread_lift/day1_care.sms.en.j2", pinned_source)
    pin_plan(session, original)
    session.commit()
    renderer = Renderer(DEFAULT_TEMPLATES_DIR)  # the files on disk say something else
    context = message_context(
        patient_first_name="Ana", clinic_name="C", clinic_phone="+15550100100",
        emergency_phone="911", procedure_at_local=_procedure_at(), language="en",
    )  # fmt: skip
    out = renderer.render_step(
        plan=load_pinned(session, "thread_lift", 2), step_key="day1_care",
        channel=Channel.SMS, language="en", context=context,
    )  # fmt: skip
    assert out.text == "Pinned: Ana. Emergency 911."


def test_a_tampered_stored_copy_is_refused(session: Session, plan: Plan) -> None:
    row = pin_plan(session, plan)
    row.templates = {**row.templates, "thread_lift/day1_care.sms.en.j2": "tampered"}
    session.add(row)
    session.commit()
    with pytest.raises(PlanError, match="does not match its sha256"):
        load_pinned(session, "thread_lift", 2)


def test_loading_a_version_never_pinned_is_a_clear_error(session: Session) -> None:
    with pytest.raises(UnknownPlan, match="'botox' v7 was never pinned"):
        load_pinned(session, "botox", 7)


@pytest.mark.postgres
def test_pinning_round_trips_on_postgresql(pg_engine: Engine, plan: Plan) -> None:
    with Session(pg_engine) as session:
        pin_plan(session, plan)
        session.commit()
    with Session(pg_engine) as session:
        loaded = load_pinned(session, "thread_lift", 2)
        assert loaded.sha256 == plan.sha256 and loaded.templates == plan.templates
        with pytest.raises(PlanError, match="changed since"):
            pin_plan(session, dataclasses.replace(plan, sha256="0" * 64))


@pytest.mark.postgres
def test_a_racing_first_pin_falls_back_to_the_winner_on_postgresql(
    pg_engine: Engine, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(pg_engine) as winner:
        pin_plan(winner, plan)
        winner.commit()
    real_find = store.find_pinned
    calls: list[int] = []

    def find_late(session: Session, key: str, version: int) -> PlanVersion | None:
        calls.append(1)  # the first look happens "before" the winner committed
        return None if len(calls) == 1 else real_find(session, key, version)

    monkeypatch.setattr(store, "find_pinned", find_late)
    with Session(pg_engine) as loser:
        loser.exec(select(PlanVersion)).all()
        row = pin_plan(loser, plan)  # unique violation inside the savepoint
        assert row.sha256 == plan.sha256 and len(calls) == 2
        loser.exec(select(PlanVersion)).all()  # the transaction is still usable
        loser.commit()


def _procedure_at() -> datetime:
    return datetime(2026, 3, 5, 10, 0, tzinfo=ZoneInfo("America/New_York"))
