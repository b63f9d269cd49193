"""The replies inbox page, the conversation thread and the staff reply form."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import select

from service.db.models import AuditLog, InboundMessage, Message, ReplyItem
from service.domain import MessageKind
from service.inbox import enter
from service.web import views_patients
from tests.web.conftest import login


def reply(session, clinic, text, *, label="other", patients=(), at=None, attributed=True):  # type: ignore[no-untyped-def]
    at = at or datetime.now().astimezone()
    owner = patients[0] if attributed and patients else None
    inbound = InboundMessage(provider_id=f"SM{text}{at.timestamp()}", channel="sms",
                             clinic_id=clinic.id, from_address="+14155550123", body=text,
                             triaged_text=text, received_at=at,
                             patient_id=owner.id if owner else None)  # fmt: skip
    session.add(inbound)
    session.flush()
    item = enter(session, inbound=inbound, clinic=clinic, label=label, now=at,
                 patient=owner,
                 candidates=[p.id for p in patients])  # fmt: skip
    session.commit()
    return item


def test_the_navigation_counts_unread_replies_and_the_inbox_lists_them_urgent_first(
    client, factory, clinic, staff, session
) -> None:  # type: ignore[no-untyped-def]
    ana = factory.patient(clinic, first_name="Ana", phone="+14155550123")
    now = datetime.now().astimezone()
    reply(session, clinic, "thanks so much", patients=[ana], at=now - timedelta(minutes=5))
    reply(session, clinic, "my lips are blue", label="urgent", patients=[ana], at=now)
    login(client, staff)
    page = client.get("/app/replies").text
    assert '<span class="n">2</span><span class="visually-hidden"> unread</span>' in page
    assert page.index("my lips are blue") < page.index("thanks so much")
    assert 'href="tel:+14155550123"' in page
    assert "(2) Replies" in page


def test_marking_a_reply_handled_from_the_inbox(client, factory, clinic, staff, session) -> None:  # type: ignore[no-untyped-def]
    ana = factory.patient(clinic, first_name="Ana")
    item = reply(session, clinic, "is swelling normal?", patients=[ana])
    csrf = login(client, staff)
    response = client.post(f"/app/replies/{item.id}/handled",
                           data={"csrf_token": csrf, "note": "called her"},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"].startswith("/app/replies?done=handled")
    assert "is swelling normal?" not in client.get("/app/replies").text
    handled = client.get("/app/replies?status=handled").text
    assert "is swelling normal?" in handled and "called her" in handled
    assert "Handled by User" in handled


def test_a_shared_number_reply_names_both_patients_and_is_assigned_with_one_click(
    client, factory, clinic, staff, session
) -> None:  # type: ignore[no-untyped-def]
    ana = factory.patient(clinic, first_name="Ana", phone="+14155550123")
    ben = factory.patient(clinic, first_name="Ben", phone="+14155550123")
    item = reply(session, clinic, "it hurts", patients=[ana, ben], attributed=False)
    csrf = login(client, staff)
    page = client.get("/app/replies").text
    assert "Shared number:" in page and "It is from Ana" in page and "It is from Ben" in page
    # It shows in both patients' conversations until someone says whose it is.
    assert "it hurts" in client.get(f"/app/patients/{ana.id}").text
    assert "it hurts" in client.get(f"/app/patients/{ben.id}").text
    response = client.post(f"/app/replies/{item.id}/assign",
                           data={"csrf_token": csrf, "patient_id": str(ben.id)},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    session.refresh(item)
    assert item.patient_id == ben.id
    assert "it hurts" not in client.get(f"/app/patients/{ana.id}").text
    assert "it hurts" in client.get(f"/app/patients/{ben.id}").text
    assert session.exec(select(AuditLog).where(AuditLog.action == "reply.assign")).first()


def test_the_feed_answers_no_change_until_a_reply_arrives(
    client, factory, clinic, staff, session
) -> None:  # type: ignore[no-untyped-def]
    ana = factory.patient(clinic, first_name="Ana")
    login(client, staff)
    first = client.get("/app/replies/feed")
    sig = first.headers["x-list-signature"]
    assert client.get(f"/app/replies/feed?since={sig}").status_code == 204
    reply(session, clinic, "a new question", patients=[ana])
    changed = client.get(f"/app/replies/feed?since={sig}")
    assert changed.status_code == 200 and "a new question" in changed.text
    assert changed.headers["x-count"] == "1"


def test_another_clinics_reply_is_not_found_and_operators_cannot_open_the_inbox(
    client, factory, staff, operator, session
) -> None:  # type: ignore[no-untyped-def]
    other = factory.clinic(name="Elsewhere")
    item = reply(session, other, "theirs", patients=[factory.patient(other)])
    csrf = login(client, staff)
    assert "theirs" not in client.get("/app/replies").text
    response = client.post(f"/app/replies/{item.id}/handled", data={"csrf_token": csrf})
    assert response.status_code == 404
    client.post("/app/logout", data={"csrf_token": csrf})
    login(client, operator)
    assert client.get("/app/replies").status_code == 403


def test_the_conversation_interleaves_what_was_sent_and_what_the_patient_wrote(
    client, factory, clinic, staff, session
) -> None:  # type: ignore[no-untyped-def]
    ana = factory.patient(clinic, first_name="Ana")
    now = datetime.now().astimezone()
    sent = Message(dedupe_key="s1", clinic_id=clinic.id, patient_id=ana.id, channel="sms",
                   due_at=now - timedelta(hours=2), next_attempt_at=now, status="delivered",
                   sent_at=now - timedelta(hours=2), body="Day 1: use a cold compress")  # fmt: skip
    later = Message(dedupe_key="s2", clinic_id=clinic.id, patient_id=ana.id, channel="sms",
                    due_at=now + timedelta(days=3), next_attempt_at=now, status="scheduled",
                    body="Day 4: not yet")  # fmt: skip
    session.add_all([sent, later])
    session.commit()
    reply(session, clinic, "ok will do", patients=[ana], at=now - timedelta(hours=1))
    login(client, staff)
    page = client.get(f"/app/patients/{ana.id}").text
    thread = page[page.index('id="conversation"') : page.index('id="enr-h"')]
    assert thread.index("Day 1: use a cold compress") < thread.index("ok will do")
    assert "Day 4: not yet" not in thread  # planned messages stay in the timeline
    assert "unread" in thread and "Mark handled" in thread


def test_staff_reply_from_the_thread_is_queued_and_handles_the_unread_reply(
    client, factory, clinic, staff, session
) -> None:  # type: ignore[no-untyped-def]
    ana = factory.patient(clinic, first_name="Ana")
    item = reply(session, clinic, "can I shower?", patients=[ana])
    csrf = login(client, staff)
    form = client.get(f"/app/patients/{ana.id}").text
    key = form.split('name="key" value="')[1].split('"')[0]
    data = {"csrf_token": csrf, "text": "Yes, after 24 hours.", "channel": "sms", "key": key}
    first = client.post(f"/app/patients/{ana.id}/messages", data=data, follow_redirects=False)
    assert first.status_code == 303 and "done=replied" in first.headers["location"]
    client.post(f"/app/patients/{ana.id}/messages", data=data)  # the form sent twice
    [message] = session.exec(select(Message).where(Message.kind == MessageKind.STAFF_REPLY)).all()
    assert message.body and "Yes, after 24 hours." in message.body
    session.refresh(item)
    assert item.handled_note == "replied"
    page = client.get(first.headers["location"]).text
    assert "Your reply is being sent now." in page
    thread = page[page.index('id="conversation"') : page.index('id="reply-form"')]
    assert f"<strong>{staff.name}</strong>" in thread and "Yes, after 24 hours." in thread


def test_an_opted_out_channel_is_offered_disabled_with_the_reason_and_refused(
    client, factory, clinic, staff, session
) -> None:  # type: ignore[no-untyped-def]
    ana = factory.patient(clinic, first_name="Ana", sms_opted_out_at=datetime.now().astimezone())
    csrf = login(client, staff)
    page = client.get(f"/app/patients/{ana.id}").text
    assert 'value="sms" disabled' in page and "texted STOP" in page
    data = {"csrf_token": csrf, "text": "hello", "channel": "sms"}
    response = client.post(f"/app/patients/{ana.id}/messages", data=data)
    assert response.status_code == 409
    assert 'id="reply-error"' in response.text and "texted STOP" in response.text
    assert "hello</textarea>" in response.text  # what staff wrote is not lost
    assert session.exec(select(ReplyItem)).all() == []


def test_the_reply_form_warns_when_it_is_night_for_the_patient(
    client, factory, clinic, staff, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    ana = factory.patient(clinic, first_name="Ana", timezone="America/Los_Angeles")
    login(client, staff)
    night = datetime.fromisoformat("2026-03-03T07:30:00+00:00")  # 23:30 in Los Angeles
    monkeypatch.setattr(views_patients, "utcnow", lambda: night)
    page = client.get(f"/app/patients/{ana.id}").text
    assert "It is 23:30 PST for Ana: a reply goes at once, at night." in page
    monkeypatch.setattr(views_patients, "utcnow", lambda: night + timedelta(hours=12))
    assert 'id="reply-night"' not in client.get(f"/app/patients/{ana.id}").text


def test_the_alert_card_has_the_callback_procedure_day_pages_and_the_automatic_reply(
    client, factory, staff, session, settings
) -> None:  # type: ignore[no-untyped-def]
    from service.composer import Composer
    from service.rendering import Renderer
    from tests.inbound_support import Inbox, oncall_clinic

    clinic = oncall_clinic(factory, session, name="Lakeside Two")
    staff.clinic_id = clinic.id
    session.add(staff)
    session.commit()
    now = datetime.now().astimezone()
    ana = factory.patient(clinic, first_name="Ana", phone="+14155550123",
                          timezone="America/Los_Angeles")  # fmt: skip
    ben = factory.patient(clinic, first_name="Ben", phone="+14155550124")
    factory.enrol(clinic, ana, procedure_at=now - timedelta(days=2), now=now - timedelta(days=2))
    inbox = Inbox(session, Composer(Renderer(settings.templates_dir), "https://care.test"), now)
    inbox.sms("my lips are turning blue", sender="+14155550124")  # the older urgent one
    inbox.now = now + timedelta(minutes=1)
    inbox.sms("my face is drooping")
    login(client, staff)
    page = client.get("/app/alerts").text
    assert page.index(f"/app/patients/{ben.id}#") < page.index(f"/app/patients/{ana.id}#")
    card = page[page.index(f"/app/patients/{ana.id}#") :]
    assert 'href="tel:+14155550123"' in card and "botox, day 2" in card
    assert "Paged: Dr A by SMS at" in card and "Dr A by EMAIL" in card
    assert "Automatic reply the patient received (SMS, scheduled)" in card
    assert "(patient: " in card  # Los Angeles beside the clinic's New York time
