"""Pause, resume, cancel, change date, and the exportable record, from the patient page."""

from __future__ import annotations

import csv
import io

from sqlmodel import select

from service import alerts
from service.db.models import AuditLog, Enrollment, InboundMessage, Message, ReplyItem
from service.domain import AlertSeverity, EnrollmentStatus, MessageStatus
from tests.web.conftest import login
from tests.web.test_enrol import _form


def _enrol(client, staff, session):  # type: ignore[no-untyped-def]
    token = login(client, staff)
    client.post("/app/enrol", data=_form(token))
    return token, session.exec(select(Enrollment)).one()


def _refresh(session, enrollment):  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(Enrollment, enrollment.id)


def test_pause_then_resume(client, clinic, staff, session) -> None:
    token, enrollment = _enrol(client, staff, session)
    paused = client.post(
        f"/app/enrollments/{enrollment.id}/pause", data={"csrf_token": token, "reason": "travel"}
    )
    assert "Enrolment paused" in paused.text
    assert _refresh(session, enrollment).status == EnrollmentStatus.PAUSED
    assert "Resume" in paused.text
    client.post(f"/app/enrollments/{enrollment.id}/resume", data={"csrf_token": token})
    assert _refresh(session, enrollment).status == EnrollmentStatus.ACTIVE


def test_cancel_stops_every_pending_message_with_the_reason(client, clinic, staff, session) -> None:
    token, enrollment = _enrol(client, staff, session)
    page = client.post(
        f"/app/enrollments/{enrollment.id}/cancel",
        data={"csrf_token": token, "reason": "procedure not done"},
    )
    assert "Enrolment cancelled" in page.text
    rows = session.exec(select(Message).where(Message.enrollment_id == enrollment.id)).all()
    assert {m.status for m in rows} <= {MessageStatus.CANCELLED, MessageStatus.SKIPPED}
    assert "procedure not done" in page.text


def test_a_cancelled_enrolment_can_be_resumed_from_the_patient_page(
    client, clinic, staff, session
) -> None:
    token, enrollment = _enrol(client, staff, session)
    page = client.post(
        f"/app/enrollments/{enrollment.id}/cancel", data={"csrf_token": token, "reason": "moved"}
    )
    assert "Resume plan" in page.text and "steps whose time has passed are not sent" in page.text
    response = client.post(f"/app/enrollments/{enrollment.id}/resume", data={"csrf_token": token})
    assert response.status_code == 200 and "Enrolment resumed." in response.text
    session.refresh(enrollment)
    assert enrollment.status == "active"
    rows = session.exec(select(Message).where(Message.enrollment_id == enrollment.id)).all()
    assert any(m.status == MessageStatus.SCHEDULED for m in rows)


def test_changing_the_procedure_date_moves_unsent_messages(client, clinic, staff, session) -> None:
    token, enrollment = _enrol(client, staff, session)
    response = client.post(
        f"/app/enrollments/{enrollment.id}/reschedule",
        data={"csrf_token": token, "procedure_at": "2026-12-08T10:00"},
    )
    assert "Procedure date changed" in response.text
    assert _refresh(session, enrollment).procedure_at.isoformat() == "2026-12-08T15:00:00+00:00"


def test_a_bad_new_date_is_named(client, clinic, staff, session) -> None:
    token, enrollment = _enrol(client, staff, session)
    response = client.post(
        f"/app/enrollments/{enrollment.id}/reschedule",
        data={"csrf_token": token, "procedure_at": "soon"},
    )
    assert response.status_code == 422
    assert "New procedure date" in response.text


def test_actions_on_another_clinics_enrolment_are_not_found(
    client, factory, clinic, staff, session
) -> None:
    _, enrollment = _enrol(client, staff, session)
    other_staff = factory.user(factory.clinic(name="Other"), password="correct horse battery")
    client.cookies.clear()
    token = login(client, other_staff)
    response = client.post(
        f"/app/enrollments/{enrollment.id}/cancel", data={"csrf_token": token, "reason": "x"}
    )
    assert response.status_code == 404
    assert client.get(f"/app/enrollments/{enrollment.id}/cancel").status_code == 404
    assert _refresh(session, enrollment).status == EnrollmentStatus.ACTIVE
    assert client.get(f"/app/enrollments/{enrollment.id}/record").status_code == 404
    assert client.get(f"/app/enrollments/{enrollment.id}/record.csv").status_code == 404


def test_the_record_lists_messages_replies_alerts_and_who_acted(
    client, clinic, staff, session, now
) -> None:
    token, enrollment = _enrol(client, staff, session)
    client.post(
        f"/app/enrollments/{enrollment.id}/pause", data={"csrf_token": token, "reason": "flu"}
    )
    reply = InboundMessage(
        provider_id="SMx",
        channel="sms",
        clinic_id=clinic.id,
        patient_id=enrollment.patient_id,
        enrollment_id=enrollment.id,
        from_address="+14155550142",
        body="=cmd| pus and fever",
        intent="urgent",
        matches=["pus", "fever"],
    )
    session.add(reply)
    session.commit()
    alert = alerts.open_alert(
        session,
        clinic=clinic,
        severity=AlertSeverity.URGENT,
        kind="triage_urgent",
        summary="Pus with fever",
        now=now,
        patient_id=enrollment.patient_id,
        enrollment_id=enrollment.id,
        inbound_id=reply.id,
    )
    alerts.acknowledge(session, alert=alert, actor=f"user:{staff.id}", now=now)
    session.commit()
    page = client.get(f"/app/enrollments/{enrollment.id}/record").text
    assert "Pus with fever" in page and "pus and fever" in page
    assert "enrollment.pause" in page and staff.name in page
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"/app/enrollments/{enrollment.id}/record.csv").text))
    )
    kinds = {r["kind"] for r in rows}
    assert {"message", "reply", "alert", "action"} <= kinds
    replies = [r for r in rows if r["kind"] == "reply"]
    assert replies[0]["detail"].startswith("'=cmd")  # a formula is neutralised
    assert any(r["by"] == staff.name for r in rows if r["kind"] == "action")


def test_no_cell_of_the_record_csv_can_run_as_a_formula(client, clinic, staff, session) -> None:
    # A patient's reply and a staff reason are text from outside: each starts the way
    # OWASP's CSV-injection cheat sheet warns about (tab, line feed, space then =, full-width =).
    token, enrollment = _enrol(client, staff, session)
    for reason in ('\t=HYPERLINK("http://x")', " =1+1"):
        client.post(f"/app/enrollments/{enrollment.id}/pause",
                    data={"csrf_token": token, "reason": reason})  # fmt: skip
        client.post(f"/app/enrollments/{enrollment.id}/resume", data={"csrf_token": token})
    for n, body in enumerate(("\n=cmd|' /C calc'!A0", "\uff1d1+1")):
        session.add(InboundMessage(
            provider_id=f"SM{n}", channel="sms", clinic_id=clinic.id,
            patient_id=enrollment.patient_id, enrollment_id=enrollment.id,
            from_address="+14155550142", body=body, intent="question",
        ))  # fmt: skip
    session.commit()
    text = client.get(f"/app/enrollments/{enrollment.id}/record.csv").text
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    outside = [c for c in cells if "HYPERLINK" in c or "1+1" in c or "calc" in c]
    assert len(outside) >= 4, outside  # the reasons and the replies are all there
    for cell in outside:
        assert cell.startswith("'"), repr(cell)


def test_cancel_asks_to_confirm_on_its_own_page_with_what_will_not_be_sent(
    client, clinic, staff, session
) -> None:
    _token, enrollment = _enrol(client, staff, session)
    patient_page = client.get(f"/app/patients/{enrollment.patient_id}").text
    assert f'action="/app/enrollments/{enrollment.id}/cancel"' not in patient_page
    assert f'href="/app/enrollments/{enrollment.id}/cancel"' in patient_page
    confirm = client.get(f"/app/enrollments/{enrollment.id}/cancel")
    assert confirm.status_code == 200
    assert "Cancel Botox aftercare for" in confirm.text
    assert "still to come will not be sent" in confirm.text
    assert "Yes, cancel the plan" in confirm.text and "No, keep the plan" in confirm.text
    assert _refresh(session, enrollment).status == EnrollmentStatus.ACTIVE


def test_cancel_without_a_reason_is_refused_naming_the_field_and_nothing_changes(
    client, clinic, staff, session
) -> None:
    token, enrollment = _enrol(client, staff, session)
    response = client.post(
        f"/app/enrollments/{enrollment.id}/cancel", data={"csrf_token": token, "reason": "  "}
    )
    assert response.status_code == 422
    assert 'id="e-reason"' in response.text and "Say why the plan is cancelled" in response.text
    assert _refresh(session, enrollment).status == EnrollmentStatus.ACTIVE
    rows = session.exec(select(Message).where(Message.enrollment_id == enrollment.id)).all()
    assert MessageStatus.CANCELLED not in {m.status for m in rows}


def test_the_cancel_reason_is_audited_and_shown_on_each_cancelled_message(
    client, clinic, staff, session
) -> None:
    token, enrollment = _enrol(client, staff, session)
    client.post(
        f"/app/enrollments/{enrollment.id}/cancel",
        data={"csrf_token": token, "reason": "patient moved abroad"},
    )
    audit = session.exec(select(AuditLog).where(AuditLog.action == "enrollment.cancel")).one()
    assert audit.reason == "patient moved abroad" and audit.actor == f"user:{staff.id}"
    page = client.get(f"/app/patients/{enrollment.patient_id}").text
    assert "Cancelled with the plan: patient moved abroad." in page


def test_the_record_has_the_text_of_every_message_sent_and_every_note(
    client, clinic, staff, session, now
) -> None:
    _, enrollment = _enrol(client, staff, session)
    sent = session.exec(select(Message).where(Message.enrollment_id == enrollment.id)).first()
    sent.status, sent.sent_at = MessageStatus.DELIVERED, now
    sent.body = "Lakeside: cold compress today. Reply STOP to opt out."
    reply = InboundMessage(provider_id="SMn", channel="sms", clinic_id=clinic.id,
                           patient_id=enrollment.patient_id, enrollment_id=enrollment.id,
                           from_address="+14155550142", body="is swelling normal?")  # fmt: skip
    session.add_all([sent, reply])
    session.commit()
    alert = alerts.open_alert(session, clinic=clinic, severity=AlertSeverity.CONCERN,
                              kind="triage_concern", summary="Swelling question", now=now,
                              patient_id=enrollment.patient_id, enrollment_id=enrollment.id,
                              inbound_id=reply.id)  # fmt: skip
    handled = {"handled_at": now, "handled_by": f"user:{staff.id}",
               "handled_note": "called her back"}  # fmt: skip
    session.add(ReplyItem(inbound_id=reply.id, clinic_id=clinic.id, channel="sms",
                          patient_id=enrollment.patient_id, label="concern", received_at=now,
                          due_at=now, alert_id=alert.id, **handled))  # fmt: skip
    alerts.resolve(session, alert=alert, actor=f"user:{staff.id}", now=now, note="all normal")
    session.commit()
    page = client.get(f"/app/enrollments/{enrollment.id}/record").text
    assert "Lakeside: cold compress today. Reply STOP to opt out." in page
    assert "called her back" in page and "all normal" in page
    assert "Botox aftercare (version" in page
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/app/enrollments/{enrollment.id}/record.csv").text)))  # fmt: skip
    texts = [r["text"] for r in rows if r["kind"] == "message" and r["text"]]
    assert texts == ["Lakeside: cold compress today. Reply STOP to opt out."]
    assert any(r["what"] == "reply.handled" and r["detail"] == "called her back" for r in rows)
    patient_page = client.get(f"/app/patients/{enrollment.patient_id}").text
    assert "called her back" in patient_page and "all normal" in patient_page
    alerts_page = client.get("/app/alerts").text
    assert "Resolution note: <q>all normal</q>" in alerts_page
    assert "called her back" in alerts_page
