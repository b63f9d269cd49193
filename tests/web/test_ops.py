"""Operator pages: delivery log filters and seek pagination, CSV export, message detail."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from service.db.models import Message, MessageEvent
from service.domain import MessageStatus
from tests.web.conftest import login


def _messages(session, patient, now, n, **overrides):  # type: ignore[no-untyped-def]
    rows = []
    for i in range(n):
        values = {
            "dedupe_key": f"ops:{patient.id}:{i}:{overrides}",
            "clinic_id": patient.clinic_id,
            "patient_id": patient.id,
            "step_key": f"step{i}",
            "channel": "sms",
            # Several rows share a due time, so the id must break ties across pages.
            "due_at": now - timedelta(hours=i // 3),
            "next_attempt_at": now,
            "status": MessageStatus.DELIVERED,
        }
        values.update(overrides)
        rows.append(Message(**values))
    session.add_all(rows)
    session.commit()
    return rows


def _ids(html: str) -> list[int]:
    import re

    return [int(x) for x in re.findall(r'href="/app/ops/messages/(\d+)"', html)]


def _next_link(html: str) -> str | None:
    import html as h
    import re

    match = re.search(r'rel="next" href="([^"]+)"', html)
    return h.unescape(match.group(1)) if match else None


def test_pages_walk_the_whole_log_once_newest_first(
    client, factory, clinic, operator, session, now
) -> None:
    patient = factory.patient(clinic)
    rows = _messages(session, patient, now - timedelta(days=1), 120)
    login(client, operator)
    seen: list[int] = []
    url: str | None = "/app/ops/messages"
    while url:
        html = client.get(url).text
        seen += _ids(html)
        url = _next_link(html)
    expected = sorted(rows, key=lambda m: (m.due_at, m.id), reverse=True)
    assert seen == [m.id for m in expected]


def test_filters_by_status_channel_and_clinic(
    client, factory, clinic, operator, session, now
) -> None:
    other = factory.clinic(name="Other")
    mine = factory.patient(clinic)
    theirs = factory.patient(other)
    failed = _messages(
        session,
        mine,
        now - timedelta(hours=1),
        2,
        status=MessageStatus.FAILED,
        error_text="number is not reachable",
    )
    emailed = _messages(session, mine, now - timedelta(hours=1), 2, channel="email")
    elsewhere = _messages(session, theirs, now - timedelta(hours=1), 2)
    login(client, operator)
    by_status = client.get("/app/ops/messages?status=failed").text
    assert set(_ids(by_status)) == {m.id for m in failed}
    assert "number is not reachable" in by_status
    assert set(_ids(client.get("/app/ops/messages?channel=email").text)) == {m.id for m in emailed}
    by_clinic = client.get(f"/app/ops/messages?clinic_id={other.id}").text
    assert set(_ids(by_clinic)) == {m.id for m in elsewhere}


def test_the_future_is_left_out_unless_asked_for(
    client, factory, clinic, operator, session, now
) -> None:
    patient = factory.patient(clinic)
    future = _messages(
        session, patient, now + timedelta(days=400), 1, status=MessageStatus.SCHEDULED
    )
    login(client, operator)
    assert future[0].id not in _ids(client.get("/app/ops/messages").text)
    assert future[0].id in _ids(client.get("/app/ops/messages?future=1").text)


def test_date_range_is_inclusive_of_whole_days(
    client, factory, clinic, operator, session, now
) -> None:
    patient = factory.patient(clinic)
    rows = _messages(session, patient, now - timedelta(days=3), 1)
    day = rows[0].due_at.date().isoformat()
    login(client, operator)
    assert _ids(client.get(f"/app/ops/messages?date_from={day}&date_to={day}").text) == [rows[0].id]
    assert (
        _ids(client.get(f"/app/ops/messages?date_to={day}&date_from={day}&status=failed").text)
        == []
    )


def test_bad_filter_values_are_named_not_a_server_error(client, operator) -> None:
    login(client, operator)
    response = client.get("/app/ops/messages?status=lost&date_from=yesterday&before=garbage")
    assert response.status_code == 200
    assert "Status: &#39;lost&#39; is not valid" in response.text
    assert "From date" in response.text


def test_phone_numbers_are_masked_in_the_log(
    client, factory, clinic, operator, session, now
) -> None:
    patient = factory.patient(clinic, phone="+14155550123")
    _messages(session, patient, now - timedelta(hours=1), 1)
    login(client, operator)
    html = client.get("/app/ops/messages").text
    assert "+***23" in html and "+14155550123" not in html


def test_csv_export_follows_the_filters(client, factory, clinic, operator, session, now) -> None:
    patient = factory.patient(clinic)
    failed = _messages(
        session,
        patient,
        now - timedelta(hours=1),
        3,
        status=MessageStatus.FAILED,
        error_text='=HYPERLINK("x")',
    )
    _messages(session, patient, now - timedelta(hours=1), 3)
    login(client, operator)
    response = client.get("/app/ops/messages.csv?status=failed")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(int(r["message_id"]) for r in rows) == sorted(m.id for m in failed)
    assert all(r["error_text"].startswith("'=") for r in rows)  # no spreadsheet formulas


def test_message_detail_shows_events_and_the_provider_error(
    client, factory, clinic, operator, session, now
) -> None:
    patient = factory.patient(clinic)
    message = _messages(
        session,
        patient,
        now,
        1,
        status=MessageStatus.FAILED,
        error_code="30003",
        error_text="unreachable destination handset",
    )[0]
    session.add(
        MessageEvent(
            message_id=message.id,
            at=now,
            from_status="sent",
            to_status="failed",
            provider_status="undelivered",
            error_code="30003",
            reason="carrier gave up",
        )
    )
    session.commit()
    login(client, operator)
    html = client.get(f"/app/ops/messages/{message.id}").text
    assert "unreachable destination handset" in html
    assert "carrier gave up" in html and "30003" in html


def test_staff_cannot_open_operator_pages(client, staff) -> None:
    login(client, staff)
    assert client.get("/app/ops/messages").status_code == 403
    assert client.get("/app/ops/messages.csv").status_code == 403
