"""No PHI at INFO: a whole journey (enrol over REST, send through the real Twilio SDK,
an urgent reply, the page) leaves no name, number, email or message text in the logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel

from service import accounts
from service.api.app import create_app
from service.db.engine import make_engine
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.dispatch.reconcile import reconcile_in_doubt
from service.logs import PrivacyFilter
from tests.factories import Factory
from tests.integration.conftest import settings_for_twilio
from tests.integration.test_e2e_urgent import CLINIC_NUMBER, PUBLIC, Clock, text_in

PATIENT = "+14155550123"  # the number text_in() sends from
PHI = ["Zelda", "Quorum", "4155550123", "zelda.q@", "lips are turning blue"]


def daytime_zone() -> str:
    """A fixed-offset zone where it is about noon now, so nothing waits for quiet hours
    (webhooks stamp replies with the real clock, so the test cannot freeze time)."""
    shift = 12 - datetime.now(UTC).hour  # hours to add to UTC to reach noon
    return f"Etc/GMT{-shift:+d}" if shift else "Etc/GMT"  # Etc/ signs are inverted


def send_due(settings, engine, clock) -> None:  # type: ignore[no-untyped-def]
    """Tick the real dispatcher for a moment: what is due now goes, later steps wait."""
    dispatcher = Dispatcher(
        DispatchContext(settings=settings, engine=engine, worker_id="privacy", clock=clock)
    )
    try:
        for _ in range(10):
            dispatcher.tick(horizon=0.1)
            dispatcher.drain(10)
    finally:
        dispatcher.stop(5)


def test_no_phi_reaches_info_logs(settings, fake_twilio, caplog):  # type: ignore[no-untyped-def]
    settings = settings_for_twilio(settings, fake_twilio.url, public_base_url=PUBLIC)
    engine = make_engine(settings)
    SQLModel.metadata.create_all(engine)
    fake_twilio.fake.configure(callbacks=False)
    with Session(engine, expire_on_commit=False) as session:
        factory = Factory(session)
        clinic = factory.clinic(sms_from=CLINIC_NUMBER, timezone=daytime_zone())
        accounts.add_oncall(session, clinic=clinic, name="Dr On Call", phone="+14155550501",
                            email=None)  # fmt: skip
        key = factory.api_key(factory.user(clinic))
        session.commit()
    clock = Clock()
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(PrivacyFilter())  # as configure_logging installs it
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        response = client.post(
            "/api/v1/enrollments",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "patient": {"first_name": "Zelda", "last_name": "Quorum", "phone": PATIENT,
                            "email": "zelda.q@lakeside-mail.com"},
                "plan": "dermal_filler",
                "procedure_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
            },
        )  # fmt: skip
        assert response.status_code == 201, response.text
        send_due(settings, engine, clock)
        # The page goes out in doubt (accepted, then a 500): reconciliation lists the
        # on-call number's messages, a GET whose URL carries it URL-encoded.
        fake_twilio.fake.configure(fail_next=[{"status": 500, "accept": True}])
        text_in(client, "my lips are turning blue")
        send_due(settings, engine, clock)
        clock.offset = timedelta(minutes=10)
        assert reconcile_in_doubt(DispatchContext(settings=settings, engine=engine,
                                                  worker_id="privacy", clock=clock),
                                  now=clock()).found  # fmt: skip
    engine.dispose()

    bodies = [m["body"] for m in fake_twilio.fake.messages.values()]
    assert any(m["to"] == PATIENT for m in fake_twilio.fake.messages.values())
    assert any(m["to"] == "+14155550501" for m in fake_twilio.fake.messages.values())
    assert bodies, "the journey sent nothing: the test would prove nothing"
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "action=" in logged, "no structured log lines were captured"
    leaked = [item for item in PHI if item in logged]
    assert "4155550501" not in logged and "%2B1" not in logged, "a listing's URL leaked"
    assert not leaked, f"PHI in INFO logs: {leaked}"
