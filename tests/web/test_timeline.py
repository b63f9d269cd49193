"""The patient timeline a nurse reads: a preview of every message still to come, human
titles, reasons in plain words on the clinic's clock, the hold while an alert is open,
and pages that cost the same however long the history."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from service import alerts
from service.db.models import Alert, InboundMessage, Message
from service.db.types import utcnow
from service.domain import AlertSeverity, MessageStatus
from service.web import timeline_data
from tests.factories import Factory
from tests.web.conftest import login


def _enrolled(factory, clinic, **patient):  # type: ignore[no-untyped-def]
    person = factory.patient(clinic, sms_consent_at=utcnow(), email_consent_at=utcnow(), **patient)
    now = utcnow()
    enrollment = factory.enrol(clinic, person, procedure_at=now - timedelta(hours=2), now=now)
    return person, enrollment


def _section(page: str, ident: str) -> str:
    match = re.search(rf'<li class="message[^"]*" id="{ident}">(.*?)</li>\n', page, re.S)
    assert match, f"{ident} not on the page"
    return match.group(1)


def test_a_message_to_come_shows_its_text_as_a_preview_with_a_human_title(
    client, factory, clinic, staff, session
) -> None:
    patient, enrollment = _enrolled(factory, clinic, first_name="Inés")
    day1 = session.exec(
        select(Message).where(
            Message.enrollment_id == enrollment.id, Message.step_key == "day1_care"
        )
    ).one()
    login(client, staff)
    page = client.get(f"/app/patients/{patient.id}").text
    item = _section(page, f"message-{day1.id}")
    assert "Preview, not sent yet" in item
    assert f"{clinic.name}: Day 1: a mild headache" in item
    assert "Day 1: Care, and the signs to report today" in item
    assert "day1_care" not in page and "red_flag_reminder" not in page
    assert "Warning-sign reminder (every 4 days for two weeks) (1st of" in page
    assert day1.body is None  # the preview is not stored: the row renders at send time


def test_the_preview_is_in_the_patients_language(client, factory, clinic, staff, session) -> None:
    patient, _ = _enrolled(factory, clinic, language="es")
    login(client, staff)
    page = client.get(f"/app/patients/{patient.id}").text
    assert "Dia 1: puede tener dolor de cabeza leve" in page  # GSM-7: the accent goes
    assert "(in Spanish)" in page


def test_an_open_alert_puts_a_banner_on_top_and_marks_routine_messages_on_hold(
    client, factory, clinic, staff, session
) -> None:
    patient, enrollment = _enrolled(factory, clinic)
    alert = alerts.open_alert(
        session,
        clinic=clinic,
        severity=AlertSeverity.CONCERN,
        kind="triage_concern",
        summary="Pain getting worse",
        now=utcnow(),
        patient_id=patient.id,
    )
    session.commit()
    routine = session.exec(
        select(Message).where(Message.enrollment_id == enrollment.id, Message.priority == "routine")
    ).first()
    login(client, staff)
    page = client.get(f"/app/patients/{patient.id}").text
    banner = page.index('id="open-alerts"')
    assert banner < page.index('id="contact-h"')
    assert f"Routine plan messages are on hold while alert {alert.id} is open" in page
    assert routine is not None
    item = _section(page, f"message-{routine.id}")
    assert f"on hold: alert {alert.id} open" in item
    assert f"On hold while alert {alert.id} is open" in item


def test_reasons_are_plain_words_on_the_clinics_clock(
    client, factory, clinic, staff, session
) -> None:
    patient = factory.patient(clinic)
    now = utcnow()
    session.add(
        Message(
            dedupe_key="late",
            clinic_id=clinic.id,
            patient_id=patient.id,
            step_key="day1_care",
            channel="sms",
            due_at=now,
            next_attempt_at=now,
            status=MessageStatus.SKIPPED,
            status_reason="too late to be useful: its validity ended before it was "
            "planned (due 2026-03-02 15:00Z, valid until 2026-03-03 15:00Z)",
        )
    )
    session.add(
        Message(
            dedupe_key="held",
            clinic_id=clinic.id,
            patient_id=patient.id,
            step_key="day2_care",
            channel="sms",
            due_at=now + timedelta(days=1),
            next_attempt_at=now + timedelta(days=1),
            status_reason="enrolment paused",
        )
    )
    session.commit()
    login(client, staff)
    page = client.get(f"/app/patients/{patient.id}").text
    assert "due 2026-03-02 10:00 EST, useful until 2026-03-03 10:00 EST" in page  # New York
    assert "15:00Z" not in page
    assert "On hold: the plan is paused" in page or "the plan is paused" in page


def test_the_timeline_is_paged_around_now_with_earlier_and_later_links(
    client, factory, clinic, staff, session, monkeypatch
) -> None:
    monkeypatch.setattr(timeline_data, "PAST_ON_FIRST_PAGE", 3)
    monkeypatch.setattr("service.web.views_patients.TIMELINE_LIMIT", 5)
    patient = factory.patient(clinic)
    now = utcnow()
    for n in range(-8, 6):  # 8 past, 6 to come, one hour apart
        at = now + timedelta(hours=n, minutes=1)
        session.add(
            Message(
                dedupe_key=f"m{n}",
                clinic_id=clinic.id,
                patient_id=patient.id,
                kind="staff_reply",
                channel="sms",
                due_at=at,
                next_attempt_at=at,
                body=f"note {n}",
                status="delivered" if n < 0 else "scheduled",
            )
        )
    session.add(
        InboundMessage(
            provider_id="SMin",
            channel="sms",
            clinic_id=clinic.id,
            patient_id=patient.id,
            from_address=patient.phone or "",
            body="reply between",
            received_at=now - timedelta(minutes=330),
        )
    )
    session.commit()
    login(client, staff)

    def notes(html: str) -> list[str]:
        return re.findall(r"note (-?\d+)</pre>", html.split('id="timeline"')[1])

    first = client.get(f"/app/patients/{patient.id}").text
    assert (
        notes(first) == ["-3", "-2", "-1", "0", "1"]
        and "reply between" not in first.split('id="timeline"')[1]
    )
    earlier = re.search(r'rel="prev" href="([^"]+)"', first)
    later = re.search(r'rel="next" href="([^"]+)"', first)
    assert earlier and later
    back = client.get(earlier.group(1).replace("&amp;", "&")).text
    assert notes(back) == ["-7", "-6", "-5", "-4"] and "reply between" in back
    forward = client.get(later.group(1).replace("&amp;", "&")).text
    assert notes(forward) == ["2", "3", "4", "5"]
    assert 'rel="next"' not in forward and "Back to now" in forward


def test_a_cursor_that_the_page_did_not_make_is_a_422_naming_it(client, factory, clinic, staff):  # type: ignore[no-untyped-def]
    patient = factory.patient(clinic)
    login(client, staff)
    response = client.get(f"/app/patients/{patient.id}?before=12.x.3")
    assert response.status_code == 422 and "before:" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_an_alert_on_the_timeline_says_what_was_done(client, factory, clinic, staff, session):  # type: ignore[no-untyped-def]
    patient = factory.patient(clinic)
    alert = alerts.open_alert(
        session,
        clinic=clinic,
        severity=AlertSeverity.URGENT,
        kind="triage_urgent",
        summary="Vision change",
        now=utcnow(),
        patient_id=patient.id,
    )
    alerts.resolve(session, alert=alert, actor=f"user:{staff.id}", now=utcnow())
    session.commit()
    login(client, staff)
    page = client.get(f"/app/patients/{patient.id}").text
    assert f"Alert {alert.id}" in page and "Resolved by" in page
    assert 'id="open-alerts"' not in page
    assert session.get(Alert, alert.id) is not None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request, session):  # type: ignore[no-untyped-def]
    """The in-memory SQLite session, or one on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield session
        return
    with Session(request.getfixturevalue("pg_engine"), expire_on_commit=False) as pg:
        yield pg


def test_walking_every_page_back_and_forth_shows_each_item_once_in_order(any_db) -> None:
    make = Factory(any_db)
    clinic = make.clinic()
    patient = make.patient(clinic)
    now = utcnow().replace(microsecond=123456)
    for i in range(23):  # ties on the instant, broken by kind then id
        at = now + timedelta(minutes=(i // 3) - 4)
        any_db.add(Message(dedupe_key=f"w{i}", clinic_id=clinic.id, patient_id=patient.id,
                           channel="sms", due_at=at, next_attempt_at=at, body=str(i)))  # fmt: skip
        if i % 5 == 0:
            any_db.add(InboundMessage(provider_id=f"in{i}", channel="sms", clinic_id=clinic.id,
                                      patient_id=patient.id, from_address="+1", body=str(i),
                                      received_at=at))  # fmt: skip
    any_db.commit()
    every = timeline_data.patient_timeline(any_db, patient, now=now, limit=None).items
    assert len(every) == 23 + 5

    def walk(page, step):  # type: ignore[no-untyped-def]
        seen = list(page.items)
        while (edge := step(page)) is not None:
            page = timeline_data.patient_timeline(any_db, patient, now=now, limit=4, **edge)
            seen = seen + page.items if "after" in edge else page.items + seen
        return seen

    first = timeline_data.patient_timeline(any_db, patient, now=now, limit=4)
    back = walk(first, lambda p: {"before": p.earlier} if p.earlier else None)
    both = walk(timeline_data.patient_timeline(any_db, patient, now=now, limit=4, before=None,
                                               after=back[0].cursor),
                lambda p: {"after": p.later} if p.later else None)  # fmt: skip
    key = [(i.kind, i.ident) for i in every]
    assert [(i.kind, i.ident) for i in back] == key[: len(back)]
    assert [(i.kind, i.ident) for i in [back[0], *both]] == key


def test_a_paused_plans_messages_say_they_wait_for_it(client, factory, clinic, staff, session):  # type: ignore[no-untyped-def]
    from service import enrollment as use_cases

    patient, enrollment = _enrolled(factory, clinic)
    use_cases.pause(session, enrollment=enrollment, now=utcnow(), actor="test", reason="travel")
    session.commit()
    login(client, staff)
    page = client.get(f"/app/patients/{patient.id}").text
    assert "On hold: the plan is paused since" in page
