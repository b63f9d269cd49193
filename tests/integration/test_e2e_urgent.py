"""End to end: a signed inbound SMS -> alert -> page sent through the fake Twilio by the
real dispatcher and SDK -> acknowledged over REST -> escalation stops. And the other
branch: nobody acknowledges, the clock moves on, the next on-call is paged."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, select

from service import accounts
from service.alerts import escalate_due
from service.api.app import create_app
from service.channels.twilio_webhooks import sign
from service.composer import Composer
from service.db.engine import make_engine
from service.db.models import Alert, AuditLog, Message
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.domain import MessageKind, MessageStatus
from service.fakes.twilio_server import TEST_AUTH_TOKEN
from service.inbox.overdue import report_overdue
from service.rendering import Renderer
from tests.factories import Factory
from tests.integration.conftest import settings_for_twilio

PUBLIC = "https://aftercare.example"
CLINIC_NUMBER = "+15005550006"
PATIENT = "+14155550123"
ON_CALL = ("+14155550501", "+14155550502")


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, settings, fake_twilio):  # type: ignore[no-untyped-def]
    if request.param == "postgresql":
        settings = settings.model_copy(update={"database_url": request.getfixturevalue("pg_url")})
    settings = settings_for_twilio(settings, fake_twilio.url, public_base_url=PUBLIC)
    engine = make_engine(settings)
    if request.param == "sqlite":
        SQLModel.metadata.create_all(engine)
    fake_twilio.fake.configure(callbacks=False)
    with Session(engine, expire_on_commit=False) as session:
        factory = Factory(session)
        clinic = factory.clinic(sms_from=CLINIC_NUMBER)
        for n, phone in enumerate(ON_CALL):
            accounts.add_oncall(session, clinic=clinic, name=f"Dr {n}", phone=phone, email=None)
        factory.patient(clinic, first_name="Ana", phone=PATIENT, sms_consent_at=datetime.now(UTC))
        key = factory.api_key(factory.user(clinic))
        session.commit()
    yield settings, engine, key
    engine.dispose()


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def send_everything(settings, engine, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    dispatcher = Dispatcher(DispatchContext(settings=settings, engine=engine, worker_id="e2e",
                                            clock=clock))  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            dispatcher.tick(horizon=0.1)
            dispatcher.drain(10)
            with Session(engine) as session:
                waiting = session.exec(
                    select(Message).where(Message.status.in_(["scheduled", "sending"]))  # type: ignore[attr-defined]
                ).all()
            if not waiting:
                return
        raise AssertionError(f"still waiting: {[(m.id, m.status) for m in waiting]}")
    finally:
        dispatcher.stop(5)


def text_in(client: TestClient, body: str) -> None:
    params = {"MessageSid": "SM" + "e" * 32, "AccountSid": "AC" + "0" * 32, "From": PATIENT,
              "To": CLINIC_NUMBER, "Body": body, "NumMedia": "0"}  # fmt: skip
    url = PUBLIC + "/webhooks/twilio/sms"
    response = client.post(
        "/webhooks/twilio/sms", content=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": sign(auth_token=TEST_AUTH_TOKEN, url=url, params=params)},
    )  # fmt: skip
    assert response.status_code == 200, response.text


def sent_to(fake_twilio, number: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["body"] for m in fake_twilio.fake.messages.values() if m["to"] == number]


def the_alert(engine) -> Alert:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        [alert] = session.exec(select(Alert)).all()
        return alert


def test_an_urgent_text_pages_on_call_through_twilio_and_an_ack_stops_escalation(
    world,
    fake_twilio,  # type: ignore[no-untyped-def]
) -> None:
    settings, engine, key = world
    clock = Clock()
    with TestClient(create_app(settings, engine=engine)) as client:
        text_in(client, "help my face is drooping on one side")
        assert not fake_twilio.fake.messages  # nothing leaves inside the request
        send_everything(settings, engine, clock)
        [page] = sent_to(fake_twilio, ON_CALL[0])
        assert "URGENT" in page and f"Call {PATIENT}" in page and "drooping face" in page
        assert "help my face" not in page  # the sign as the plan names it, not the reply
        [safety_net] = sent_to(fake_twilio, PATIENT)
        # A drooping face is routed to the emergency number: "call it now", not "wait".
        assert "drooping face or slurred speech, call 911 now" in safety_net
        alert = the_alert(engine)
        response = client.post(f"/api/v1/alerts/{alert.id}/ack",
                               headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert response.status_code == 200 and response.json()["status"] == "acknowledged"
    composer = Composer(renderer=Renderer(settings.templates_dir), base_url=PUBLIC)
    with Session(engine) as session:
        later = datetime.now(UTC) + timedelta(hours=2)
        assert escalate_due(session, now=later, composer=composer) == []
    assert not sent_to(fake_twilio, ON_CALL[1])


def test_an_unacknowledged_alert_pages_the_next_on_call_after_the_ack_window(
    world,
    fake_twilio,  # type: ignore[no-untyped-def]
) -> None:
    settings, engine, _key = world
    clock = Clock()
    with TestClient(create_app(settings, engine=engine)) as client:
        text_in(client, "my lips are turning blue")
    send_everything(settings, engine, clock)
    alert = the_alert(engine)
    assert alert.next_escalation_at is not None
    composer = Composer(renderer=Renderer(settings.templates_dir), base_url=PUBLIC)
    clock.offset = timedelta(minutes=14)
    with Session(engine) as session:
        assert escalate_due(session, now=clock(), composer=composer) == []
    clock.offset = alert.next_escalation_at - datetime.now(UTC) + timedelta(seconds=1)
    with Session(engine) as session:
        assert escalate_due(session, now=clock(), composer=composer) == [alert.id]
        session.commit()
    send_everything(settings, engine, clock)
    assert len(sent_to(fake_twilio, ON_CALL[0])) == 2  # re-paged
    [escalated] = sent_to(fake_twilio, ON_CALL[1])
    assert "escalated" in escalated
    with Session(engine) as session:
        pages = session.exec(select(Message).where(Message.kind == MessageKind.PAGE)).all()
        assert {p.status for p in pages} == {MessageStatus.SENT}
        assert session.exec(select(AuditLog).where(AuditLog.action == "alert.escalate")).first()


def test_a_routine_reply_reaches_the_inbox_is_handled_over_rest_or_reported_late(
    world,
    fake_twilio,  # type: ignore[no-untyped-def]
) -> None:
    settings, engine, key = world
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings, engine=engine)) as client:
        text_in(client, "thanks, the swelling is going down")
        [item] = client.get("/api/v1/replies", headers=auth).json()["items"]
        assert item["text"] == "thanks, the swelling is going down" and item["alert_id"] is None
        composer = Composer(renderer=Renderer(settings.templates_dir), base_url=PUBLIC)
        late = datetime.fromisoformat(item["due_at"]) + timedelta(seconds=1)
        with Session(engine) as session:
            assert report_overdue(session, now=late, composer=composer) == [item["id"]]
            if engine.dialect.name == "postgresql":
                # The row is locked until this round commits: another worker skips it.
                with Session(engine) as rival:
                    assert report_overdue(rival, now=late, composer=composer) == []
            session.commit()
        [late_item] = client.get("/api/v1/replies", headers=auth).json()["items"]
        assert late_item["overdue_alert_id"] is not None
        response = client.post(f"/api/v1/replies/{item['id']}/handled", headers=auth)
        assert response.status_code == 200, response.text
        assert client.get("/api/v1/replies", headers=auth).json()["items"] == []
        task = client.get("/api/v1/alerts?status=resolved", headers=auth).json()["items"]
        assert [t["kind"] for t in task] == ["reply_overdue"]
