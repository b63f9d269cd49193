"""Staff pages: patient list, timeline with reasons, alert inbox; clinic separation."""

from __future__ import annotations

from datetime import timedelta

from service import alerts
from service.db.models import Alert, InboundMessage, Message, MessageEvent
from service.domain import AlertSeverity, AlertStatus, MessageStatus
from tests.web.conftest import login


def _message(session, patient, now, **overrides):  # type: ignore[no-untyped-def]
    values = {
        "dedupe_key": f"t:{patient.id}:{overrides.get('step_key', 'day1')}",
        "clinic_id": patient.clinic_id,
        "patient_id": patient.id,
        "step_key": "day1",
        "channel": "sms",
        "due_at": now,
        "next_attempt_at": now,
    }
    values.update(overrides)
    message = Message(**values)
    session.add(message)
    session.commit()
    return message


def test_staff_see_their_clinics_patients_with_masked_phones(
    client, factory, clinic, staff
) -> None:
    patient = factory.patient(clinic, first_name="Ana", phone="+14155550123")
    login(client, staff)
    page = client.get("/app/patients")
    assert "Ana" in page.text
    assert "+***23" in page.text
    assert "+14155550123" not in page.text
    assert f"/app/patients/{patient.id}" in page.text


def test_search_finds_by_name_and_by_phone_digits(client, factory, clinic, staff) -> None:
    factory.patient(clinic, first_name="Beatriz", phone="+14155550199")
    factory.patient(clinic, first_name="Carla", phone="+14155550177")
    login(client, staff)
    assert "Carla" not in client.get("/app/patients?q=beat").text
    by_digits = client.get("/app/patients?q=0199").text
    assert "Beatriz" in by_digits and "Carla" not in by_digits


def test_another_clinics_patient_is_not_found(client, factory, staff) -> None:
    other = factory.clinic(name="Elsewhere")
    stranger = factory.patient(other, first_name="Zed")
    login(client, staff)
    assert client.get(f"/app/patients/{stranger.id}").status_code == 404
    assert f"/app/patients/{stranger.id}" not in client.get("/app/patients?q=Zed").text


def test_an_operator_cannot_open_staff_pages(client, operator) -> None:
    login(client, operator)
    assert client.get("/app/patients").status_code == 403


def test_the_timeline_says_why_each_message_is_in_its_state(
    client, factory, clinic, staff, session, now
) -> None:
    patient = factory.patient(clinic)
    _message(
        session,
        patient,
        now,
        step_key="day1",
        status=MessageStatus.SKIPPED,
        status_reason="validity passed before it could be sent",
    )
    failed = _message(
        session,
        patient,
        now + timedelta(days=1),
        step_key="day2",
        status=MessageStatus.FAILED,
        error_code="21610",
        error_text="the recipient has unsubscribed from this sender",
    )
    session.add(
        MessageEvent(
            message_id=failed.id,
            at=now,
            from_status="sending",
            to_status="failed",
            reason="permanent provider error",
            actor="worker-1",
        )
    )
    session.commit()
    _message(
        session,
        patient,
        now + timedelta(days=2),
        step_key="week2",
        next_attempt_at=now + timedelta(days=2, hours=11),
        status_reason="moved out of quiet hours",
    )
    login(client, staff)
    page = client.get(f"/app/patients/{patient.id}").text
    assert "Not sent: by the time it could go out it was no longer useful." in page
    assert "the recipient has unsubscribed from this sender (provider code 21610)" in page
    assert "Permanent provider error" in page
    assert "moved out of quiet hours" in page


def test_the_timeline_shows_replies_with_their_triage_label_and_matches(
    client, factory, clinic, staff, session, now
) -> None:
    patient = factory.patient(clinic)
    reply = InboundMessage(
        provider_id="SM1",
        channel="sms",
        clinic_id=clinic.id,
        patient_id=patient.id,
        from_address=patient.phone,
        body="my face is drooping",
        intent="urgent",
        matches=["face drooping"],
        received_at=now,
    )
    session.add(reply)
    session.commit()
    alert = alerts.open_alert(
        session,
        clinic=clinic,
        severity=AlertSeverity.URGENT,
        kind="triage_urgent",
        summary="Urgent reply",
        now=now,
        patient_id=patient.id,
        inbound_id=reply.id,
    )
    alerts.acknowledge(session, alert=alert, actor=f"user:{staff.id}", now=now)
    session.commit()
    login(client, staff)
    page = client.get(f"/app/patients/{patient.id}").text
    assert "my face is drooping" in page
    assert "face drooping" in page
    assert f"Acknowledged by {staff.name}" in page


def test_opt_out_is_shown_plainly(client, factory, clinic, staff, now) -> None:
    patient = factory.patient(clinic, sms_opted_out_at=now)
    login(client, staff)
    assert "SMS opted out on" in client.get(f"/app/patients/{patient.id}").text
    assert "texted STOP" in client.get("/app/patients").text


def test_a_script_in_a_patient_name_is_shown_as_text(client, factory, clinic, staff) -> None:
    patient = factory.patient(clinic, first_name="<script>alert(1)</script>")
    login(client, staff)
    for url in ("/app/patients", f"/app/patients/{patient.id}"):
        page = client.get(url).text
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def _alert(session, clinic, patient, now, severity, summary):  # type: ignore[no-untyped-def]
    alert = alerts.open_alert(
        session,
        clinic=clinic,
        severity=severity,
        kind="triage",
        summary=summary,
        now=now,
        patient_id=patient.id,
    )
    session.commit()
    return alert


def test_the_inbox_lists_urgent_alerts_first(client, factory, clinic, staff, session, now) -> None:
    patient = factory.patient(clinic)
    _alert(
        session, clinic, patient, now + timedelta(minutes=5), AlertSeverity.CONCERN, "Concern later"
    )
    _alert(session, clinic, patient, now, AlertSeverity.URGENT, "Urgent earlier")
    login(client, staff)
    page = client.get("/app/alerts").text
    assert page.index("Urgent earlier") < page.index("Concern later")


def test_the_feed_answers_no_change_when_the_signature_matches(
    client, factory, clinic, staff, session, now
) -> None:
    patient = factory.patient(clinic)
    login(client, staff)
    first = client.get("/app/alerts/feed")
    assert first.status_code == 200
    sig = first.headers["x-inbox-signature"]
    assert client.get(f"/app/alerts/feed?since={sig}").status_code == 204
    _alert(session, clinic, patient, now, AlertSeverity.URGENT, "Vision change")
    changed = client.get(f"/app/alerts/feed?since={sig}")
    assert changed.status_code == 200
    assert "Vision change" in changed.text
    assert changed.headers["x-urgent-open"] == "1"


def test_acknowledge_and_resolve_from_the_inbox(
    client, factory, clinic, staff, session, now
) -> None:
    patient = factory.patient(clinic)
    alert = _alert(session, clinic, patient, now, AlertSeverity.URGENT, "Breathing trouble")
    token = login(client, staff)
    response = client.post(f"/app/alerts/{alert.id}/ack", data={"csrf_token": token})
    assert "Alert acknowledged." in response.text
    session.expire_all()
    assert session.get(Alert, alert.id).status == AlertStatus.ACKNOWLEDGED
    assert session.get(Alert, alert.id).acknowledged_by == f"user:{staff.id}"
    client.post(f"/app/alerts/{alert.id}/resolve", data={"csrf_token": token, "note": "called"})
    session.expire_all()
    assert session.get(Alert, alert.id).status == AlertStatus.RESOLVED


def test_acknowledging_needs_the_csrf_token(client, factory, clinic, staff, session, now) -> None:
    patient = factory.patient(clinic)
    alert = _alert(session, clinic, patient, now, AlertSeverity.URGENT, "Chest pain")
    login(client, staff)
    assert client.post(f"/app/alerts/{alert.id}/ack", data={"csrf_token": "x"}).status_code == 403
    session.expire_all()
    assert session.get(Alert, alert.id).status == AlertStatus.OPEN


def test_staff_cannot_acknowledge_another_clinics_alert(
    client, factory, staff, session, now
) -> None:
    other = factory.clinic(name="Elsewhere")
    alert = _alert(session, other, factory.patient(other), now, AlertSeverity.URGENT, "Other")
    token = login(client, staff)
    assert client.post(f"/app/alerts/{alert.id}/ack", data={"csrf_token": token}).status_code == 404
    assert "Other" not in client.get("/app/alerts").text


def test_search_ignores_accents_and_case_in_either_direction(client, factory, clinic, staff):  # type: ignore[no-untyped-def]
    factory.patient(clinic, first_name="Lucía", last_name="Núñez")
    factory.patient(clinic, first_name="Carla", last_name="Nunes")
    factory.patient(clinic, first_name="ZOË", last_name="Ørsted")
    login(client, staff)
    for query in ("nunez", "NÚÑEZ", "lucia nunez", "nunez luc", "Lucia"):
        page = client.get("/app/patients", params={"q": query}).text
        assert "Lucía" in page and "Carla" not in page, query
    assert "ZOË" in client.get("/app/patients", params={"q": "zoe orsted"}).text


def test_search_finds_a_phone_number_typed_in_any_format(client, factory, staff) -> None:
    us = factory.clinic(name="US clinic")
    factory.patient(us, first_name="Dana", phone="+14155550142")
    factory.patient(us, first_name="Eve", phone="+447911123456")
    user = factory.user(us, password="correct horse battery")
    login(client, user)
    typed = {"(415) 555-0142": "Dana", "+1 415-555-0142": "Dana", "415.555.0142": "Dana",
             "1 415 555 0142": "Dana", "+44 7911 123456": "Eve", "0044 7911 123456": "Eve",
             "07911 123456": "Eve"}  # fmt: skip
    for query, name in typed.items():
        page = client.get("/app/patients", params={"q": query}).text
        other = "Eve" if name == "Dana" else "Dana"
        assert name in page and f">{other} " not in page, query


def test_search_treats_wildcards_as_text_and_stays_in_the_clinic(client, factory, clinic, staff):  # type: ignore[no-untyped-def]
    factory.patient(clinic, first_name="Ann")
    factory.patient(factory.clinic(name="Elsewhere"), first_name="Núñez")
    login(client, staff)
    assert "Ann" not in client.get("/app/patients", params={"q": "%"}).text.split("<tbody>")[-1]
    assert "Núñez" not in client.get("/app/patients", params={"q": "nunez"}).text


def test_the_list_names_what_stops_messages_and_plans_and_languages_by_name(
    client, factory, clinic, staff, now
) -> None:
    nothing = factory.patient(clinic, first_name="Nora", email=None, language="es")
    factory.enrol(clinic, nothing, procedure_at=now, now=now, plan="botox")
    factory.patient(clinic, first_name="Olga", sms_consent_at=now, email_consent_at=now)
    factory.patient(clinic, first_name="Pia", sms_consent_at=now, email=None)
    login(client, staff)
    page = client.get("/app/patients").text
    assert "Nothing can be sent: no SMS consent and no email" in page
    assert "Texts and email" in page and "Texts only: no email" in page
    assert "Botox aftercare: active" in page and "Spanish" in page
    assert "Contact" not in page.split("<thead>")[1].split("</thead>")[0]


def test_resolve_is_behind_its_own_disclosure_not_beside_acknowledge(
    client, factory, clinic, staff, session, now
) -> None:
    patient = factory.patient(clinic)
    alert = _alert(session, clinic, patient, now, AlertSeverity.URGENT, "Vision change")
    login(client, staff)
    page = client.get("/app/alerts").text
    disclosure = page.split(f'<details class="resolve" id="resolve-{alert.id}">')[1]
    assert f'action="/app/alerts/{alert.id}/resolve"' in disclosure.split("</details>")[0]
    assert f'action="/app/alerts/{alert.id}/resolve"' not in page.split("<details")[0]
