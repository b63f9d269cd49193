"""Operators' charts (SVG from real rows) and the worker health page."""

from __future__ import annotations

from datetime import timedelta

from service.db.models import InboundMessage, Message, WorkerHeartbeat
from service.db.types import utcnow
from service.domain import MessageStatus
from service.web import svg
from tests.web.conftest import login


def _sent(session, patient, n, *, status, seconds=5, channel="sms", error=None):  # type: ignore[no-untyped-def]
    at = utcnow() - timedelta(hours=1)
    for i in range(n):
        session.add(Message(
            dedupe_key=f"c:{status}:{channel}:{i}:{seconds}", clinic_id=patient.clinic_id,
            patient_id=patient.id, channel=channel, due_at=at, next_attempt_at=at, sent_at=at,
            delivered_at=at + timedelta(seconds=seconds) if status == "delivered" else None,
            status=status, error_text=error, updated_at=at,
        ))  # fmt: skip
    session.commit()


def test_charts_count_real_rows(client, factory, clinic, operator, session) -> None:
    patient = factory.patient(clinic)
    _sent(session, patient, 3, status=MessageStatus.DELIVERED, seconds=5)
    _sent(session, patient, 2, status=MessageStatus.DELIVERED, seconds=400)
    _sent(session, patient, 4, status=MessageStatus.FAILED, error="landline cannot receive SMS")
    session.add(
        InboundMessage(provider_id="SMr", channel="sms", from_address="+1", intent="urgent")
    )
    session.commit()
    login(client, operator)
    page = client.get("/app/ops/charts?days=7").text
    assert "9 sent, 5 delivered, 4 failed or undelivered" in page
    assert "<svg" in page and 'role="img"' in page
    assert "&lt; 10 s: 3" in page  # the latency bucket's tooltip
    assert "5-30 min: 2" in page
    assert "landline cannot receive SMS: 4" in page
    assert "urgent: 1" in page


def test_chart_labels_are_escaped() -> None:
    chart = svg.horizontal_bars(title="<t>", rows=[("<script>x</script>", 2)])
    assert "<script>" not in chart
    assert "&lt;script&gt;" in chart


def test_an_empty_period_draws_an_empty_chart(client, operator) -> None:
    login(client, operator)
    page = client.get("/app/ops/charts?days=999")
    assert page.status_code == 200
    assert "No data in this period." in page.text


def test_health_shows_workers_queue_in_doubt_and_review(
    client, factory, clinic, operator, session
) -> None:
    now = utcnow()
    patient = factory.patient(clinic)
    session.add(WorkerHeartbeat(worker_id="w-live", hostname="h", pid=1, last_tick_at=now))
    session.add(
        WorkerHeartbeat(
            worker_id="w-dead", hostname="h", pid=2, last_tick_at=now - timedelta(minutes=10)
        )
    )
    late = now - timedelta(minutes=30)
    rows = [
        Message(dedupe_key="h1", clinic_id=clinic.id, patient_id=patient.id, channel="sms",
                due_at=late, next_attempt_at=late),
        Message(dedupe_key="h2", clinic_id=clinic.id, patient_id=patient.id, channel="sms",
                due_at=late, next_attempt_at=late, status=MessageStatus.SENDING,
                claimed_at=now - timedelta(minutes=5), claimed_by="w-dead"),
        Message(dedupe_key="h3", clinic_id=clinic.id, patient_id=patient.id, channel="sms",
                due_at=late, next_attempt_at=late, status=MessageStatus.REVIEW,
                status_reason="provider could not confirm"),
    ]  # fmt: skip
    session.add_all(rows)
    session.commit()
    login(client, operator)
    page = client.get("/app/ops/health").text
    assert "w-live" in page and "ticking" in page
    assert "w-dead" in page and "silent" in page
    assert "Due now</dt><dd>1</dd>" in page
    assert "30.0 min late" in page
    assert f'href="/app/ops/messages/{rows[1].id}"' in page
    assert "provider could not confirm" in page


def test_health_says_so_when_no_worker_reports(client, operator) -> None:
    login(client, operator)
    assert "No worker has reported." in client.get("/app/ops/health").text


def test_health_shows_each_clinics_replies_past_their_time_without_their_words(
    client, factory, clinic, operator, session
) -> None:  # type: ignore[no-untyped-def]
    from service.inbox import enter

    quiet = factory.clinic(name="Quiet Clinic")
    now = utcnow()
    for n, (where, hours_ago) in enumerate([(clinic, 30), (clinic, 29), (clinic, 0), (quiet, 0)]):
        at = now - timedelta(hours=hours_ago)
        inbound = InboundMessage(provider_id=f"SMb{n}", channel="sms", clinic_id=where.id,
                                 from_address="+1", body=f"secret {n}", received_at=at)  # fmt: skip
        session.add(inbound)
        session.flush()
        enter(session, inbound=inbound, clinic=where, label="other", now=at)
    session.commit()
    login(client, operator)
    page = client.get("/app/ops/health").text
    section = page[page.index("Patient replies waiting") : page.index("<h2>Workers")]
    lakeside = section.index("Lakeside Aesthetics")
    assert lakeside < section.index("Quiet Clinic")  # late ones first
    assert '<strong class="error">2</strong>' in section[lakeside : section.index("Quiet Clinic")]
    assert "secret" not in page
