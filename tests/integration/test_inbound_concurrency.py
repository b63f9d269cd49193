"""Twilio retries can arrive together: the same MessageSid posted concurrently to a live
server on PostgreSQL is recorded, alerted and answered exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr
from sqlmodel import Session, select

from service import accounts
from service.channels.twilio_webhooks import sign
from service.db.models import Alert, InboundMessage, Message
from service.domain import MessageKind
from service.fakes.twilio_server import TEST_AUTH_TOKEN
from tests.factories import Factory
from tests.integration.conftest import serve_app

CLINIC_NUMBER = "+14155550999"
PATIENT = "+14155550123"


def test_concurrent_replays_of_one_message_sid_are_handled_once(pg_settings, pg_engine) -> None:  # type: ignore[no-untyped-def]
    with Session(pg_engine) as session:
        factory = Factory(session)
        clinic = factory.clinic(sms_from=CLINIC_NUMBER)
        accounts.add_oncall(session, clinic=clinic, name="Dr A", phone="+14155550501", email=None)
        factory.patient(clinic, phone=PATIENT)
        session.commit()
    settings = pg_settings.model_copy(update={"twilio_auth_token": SecretStr(TEST_AUTH_TOKEN)})
    params = {"MessageSid": "SM" + "c" * 32, "From": PATIENT, "To": CLINIC_NUMBER,
              "Body": "my lips are turning blue", "NumMedia": "0"}  # fmt: skip
    with serve_app(settings, pg_engine) as live:
        url = live.url + "/webhooks/twilio/sms"
        signature = sign(auth_token=TEST_AUTH_TOKEN, url=url, params=params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }

        def post(_: int) -> int:
            return httpx.post(
                url, content=urlencode(params), headers=headers, timeout=30
            ).status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            codes = list(pool.map(post, range(6)))
    assert codes == [200] * 6
    with Session(pg_engine) as session:
        assert len(session.exec(select(InboundMessage)).all()) == 1
        assert len(session.exec(select(Alert)).all()) == 1
        replies = session.exec(select(Message).where(Message.kind == MessageKind.AUTO_REPLY))
        assert len(replies.all()) == 1
