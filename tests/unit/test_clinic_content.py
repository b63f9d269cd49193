"""Clinic content versions: drafts, frozen versions, sign-off, and which text a patient gets."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from service import clinic_content
from service.clinic_content import ContentError, ContentRefused, record_content_signoff, save_text
from service.config import DEFAULT_TEMPLATES_DIR
from service.db.models import AuditLog, Clinic, Message
from service.dispatch.content import PlanCache, content_of
from service.enrollment import enrol
from service.plans.catalog import load_catalog
from service.plans.content_store import signed_content
from service.plans.model import Plan
from service.rendering import Renderer

TEXT = (
    "{{ clinic_name }}: Day 1 from your nurse: a cold pack, 10 minutes at a time. "
    '{% include "_partials/emergency.sms.en.j2" %}'
)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(DEFAULT_TEMPLATES_DIR)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_catalog(DEFAULT_TEMPLATES_DIR).get("thread_lift")


def save(session: Session, clinic: Clinic, plan: Plan, renderer: Renderer, text: str | None = TEXT):
    saved = save_text(session, clinic_id=clinic.id, plan=plan, step="day1_care", channel="sms",
                      language="en", text=text, actor="user:1", renderer=renderer)  # fmt: skip
    session.commit()
    return saved


def sign(session: Session, clinic: Clinic, plan: Plan, renderer: Renderer, version: int, sha: str):
    signoff = record_content_signoff(
        session, clinic_id=clinic.id, plan=plan, version=version, sha256=sha,  # type: ignore[arg-type]
        signer_name="Dr Ana Ruiz", signer_role="Medical director, MD", signed_on=None,
        note=None, actor="user:1", renderer=renderer,
    )  # fmt: skip
    session.commit()
    return signoff


def actions(session: Session) -> list[str]:
    query = select(AuditLog.action).where(col(AuditLog.action).startswith("content."))
    return list(session.exec(query.order_by(col(AuditLog.id))))


def day1_text(session, factory, clinic, plan, renderer, now) -> str:
    """Enrol a new patient and render their day-1 text as the dispatcher would."""
    patient = factory.patient(clinic)
    result = enrol(session, clinic=clinic, patient=patient, plan=plan,
                   procedure_at=now + timedelta(days=2), now=now, actor="test")  # fmt: skip
    session.commit()
    query = select(Message).where(Message.enrollment_id == result.enrollment.id)
    row = session.exec(query.where(Message.step_key == "day1_care", Message.channel == "sms")).one()
    values = content_of(session, row, patient=patient, enrollment=result.enrollment,
                        clinic=clinic, renderer=renderer, plans=PlanCache())  # fmt: skip
    return str(values["body"])


def test_a_draft_changes_in_place_until_it_is_signed_off(session, factory, plan, renderer) -> None:
    clinic = factory.clinic()
    first = save(session, clinic, plan, renderer)
    second = save(session, clinic, plan, renderer, TEXT.replace("nurse", "team"))
    assert (first.change, second.change) == ("created", "updated")
    assert second.row.id == first.row.id and second.row.version == 1
    sign(session, clinic, plan, renderer, 1, second.row.sha256)
    third = save(session, clinic, plan, renderer, TEXT.replace("nurse", "doctor"))
    assert (third.change, third.row.version) == ("created", 2)
    assert clinic_content.frozen_reason(session, second.row) == "it has been signed off"
    assert actions(session) == ["content.create", "content.update", "content.signoff",
                                "content.create"]  # fmt: skip


def test_the_audit_entry_names_the_version_and_its_content(session, factory, plan, renderer):
    clinic = factory.clinic()
    saved = save(session, clinic, plan, renderer)
    entry = session.exec(select(AuditLog).where(AuditLog.action == "content.create")).one()
    assert (entry.clinic_id, entry.actor, entry.entity_id) == (clinic.id, "user:1", saved.row.id)
    assert entry.detail == {"plan": "thread_lift", "plan_version": plan.version, "version": 1,
                            "sha256": saved.row.sha256,
                            "texts": ["thread_lift/day1_care.sms.en.j2"]}  # fmt: skip


def test_saving_the_same_texts_again_changes_nothing(session, factory, plan, renderer) -> None:
    clinic = factory.clinic()
    save(session, clinic, plan, renderer)
    assert save(session, clinic, plan, renderer).change == "unchanged"


def test_the_plans_own_text_removes_the_override(session, factory, plan, renderer) -> None:
    clinic = factory.clinic()
    save(session, clinic, plan, renderer)
    default = plan.templates["thread_lift/day1_care.sms.en.j2"]
    assert save(session, clinic, plan, renderer, default).row.templates == {}


def test_a_refused_save_stores_nothing(session, factory, plan, renderer) -> None:
    clinic = factory.clinic()
    with pytest.raises(ContentRefused) as refused:
        save(session, clinic, plan, renderer, "{{ clinic_name }}: rest today.")
    problems = {(f.step, f.channel, f.language, f.message.split(":")[0])
                for f in refused.value.findings}  # fmt: skip
    assert problems == {("day1_care", "sms", "en", "emergency line missing"),
                        ("day1_care", "sms", "en", "clinic number missing")}  # fmt: skip
    session.rollback()
    assert clinic_content.content_versions(session, clinic.id, plan.key) == []


def test_a_sign_off_of_texts_changed_since_they_were_opened_is_refused(
    session, factory, plan, renderer
) -> None:
    clinic = factory.clinic()
    opened = save(session, clinic, plan, renderer).row.sha256
    save(session, clinic, plan, renderer, TEXT.replace("nurse", "team"))
    with pytest.raises(ContentError) as refused:
        sign(session, clinic, plan, renderer, 1, opened)
    assert (refused.value.field, refused.value.problem) == ("sha256", "conflict")


def test_a_sign_off_needs_the_clinicians_name_and_a_real_version(
    session, factory, plan, renderer
) -> None:
    clinic = factory.clinic()
    row = save(session, clinic, plan, renderer).row
    with pytest.raises(ContentError, match=r"^name: the clinician's name is required"):
        record_content_signoff(session, clinic_id=clinic.id, plan=plan, version=1,
                               sha256=row.sha256, signer_name=" ", signer_role="MD",
                               signed_on=date(2026, 1, 1), note=None, actor="user:1",
                               renderer=renderer)  # fmt: skip
    with pytest.raises(ContentError) as missing:
        sign(session, clinic, plan, renderer, 7, row.sha256)
    assert missing.value.problem == "missing"


def test_new_enrolments_get_the_signed_version_and_old_ones_keep_theirs(
    session, factory, plan, renderer, now: datetime
) -> None:
    clinic = factory.clinic(name="Glow Clinic")
    assert day1_text(session, factory, clinic, plan, renderer, now).startswith(
        "Glow Clinic: Day 1: a cold compress"
    )
    draft = save(session, clinic, plan, renderer).row
    unsigned = day1_text(session, factory, clinic, plan, renderer, now)
    assert unsigned.startswith("Glow Clinic: Day 1: a cold compress")  # a draft is never used
    sign(session, clinic, plan, renderer, 1, draft.sha256)
    assert day1_text(session, factory, clinic, plan, renderer, now).startswith(
        "Glow Clinic: Day 1 from your nurse"
    )
    v2 = save(session, clinic, plan, renderer, TEXT.replace("nurse", "doctor")).row
    sign(session, clinic, plan, renderer, 2, v2.sha256)
    assert "from your doctor" in day1_text(session, factory, clinic, plan, renderer, now)


def test_another_clinics_texts_are_not_used(session, factory, plan, renderer, now) -> None:
    mine, other = factory.clinic(name="Mine"), factory.clinic(name="Other")
    row = save(session, other, plan, renderer).row
    sign(session, other, plan, renderer, 1, row.sha256)
    assert signed_content(session, mine.id, plan) is None  # type: ignore[arg-type]
    assert "a cold compress" in day1_text(session, factory, mine, plan, renderer, now)


def test_texts_written_for_another_plan_version_are_not_used(
    session, factory, plan, renderer
) -> None:
    clinic = factory.clinic()
    row = save(session, clinic, plan, renderer).row
    sign(session, clinic, plan, renderer, 1, row.sha256)
    newer = dataclasses.replace(plan, version=plan.version + 1, sha256="b" * 64)
    assert signed_content(session, clinic.id, plan) is not None  # type: ignore[arg-type]
    assert signed_content(session, clinic.id, newer) is None  # type: ignore[arg-type]
    with pytest.raises(ContentError, match="the plan is now"):
        sign(session, clinic, newer, renderer, 1, row.sha256)


def test_staff_are_told_when_the_clinics_texts_were_for_an_older_plan_version(
    session, factory, plan, renderer, now
) -> None:
    clinic = factory.clinic()
    row = save(session, clinic, plan, renderer).row
    sign(session, clinic, plan, renderer, 1, row.sha256)
    newer = dataclasses.replace(plan, version=plan.version + 1, sha256="b" * 64)
    result = enrol(session, clinic=clinic, patient=factory.patient(clinic), plan=newer,
                   procedure_at=now + timedelta(days=2), now=now, actor="test")  # fmt: skip
    assert result.enrollment.content_version_id is None
    assert any("written for plan v" in w and "signed off again" in w for w in result.warnings)


def test_two_first_saves_racing_tell_the_loser_to_reload(
    session, factory, plan, renderer, monkeypatch
) -> None:
    clinic = factory.clinic()
    save(session, clinic, plan, renderer)
    monkeypatch.setattr(clinic_content, "_latest", lambda *a, **k: None)  # it saw no version
    with pytest.raises(ContentError) as lost:
        save(session, clinic, plan, renderer, TEXT.replace("nurse", "team"))
    assert (lost.value.problem, lost.value.field) == ("conflict", "version")
    assert "another save made version 1 meanwhile" in lost.value.message
