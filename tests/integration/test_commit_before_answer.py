"""Every route commits before it answers: a change that was not stored is never a success.

The request's session commits when the view returns, before the response leaves; a
failed commit answers an error (503 here, where the database refuses the COMMIT itself),
and values longer than their columns are refused by validation, naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from service.alerts import open_alert
from service.api.app import create_app
from service.db.models import Alert, Message
from service.domain import AlertSeverity, AlertStatus, MessageStatus
from service.fakes.twilio_server import TEST_AUTH_TOKEN
from tests.factories import Factory
from tests.integration.conftest import PUBLIC, post_status
from tests.integration.test_status_webhook import make_message, state
from tests.web.conftest import PASSWORD, login

pytestmark = pytest.mark.postgres


@pytest.fixture
def app_settings(pg_settings):  # type: ignore[no-untyped-def]
    return pg_settings.model_copy(
        update={"public_base_url": PUBLIC, "twilio_auth_token": SecretStr(TEST_AUTH_TOKEN)}
    )


@pytest.fixture
def client(app_settings, pg_engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(app_settings, engine=pg_engine), base_url=PUBLIC) as client:
        yield client


@pytest.fixture
def seeded(pg_engine):  # type: ignore[no-untyped-def]
    with Session(pg_engine, expire_on_commit=False) as session:
        factory = Factory(session)
        clinic = factory.clinic()
        alert = open_alert(session, clinic=clinic, severity=AlertSeverity.URGENT, kind="k",
                           summary="s", now=datetime.now(UTC))  # fmt: skip
        staff = factory.user(clinic, password=PASSWORD)
        key = factory.api_key(staff)
        session.commit()
        return {"alert": alert.id, "key": key, "staff": staff}


@contextmanager
def commits_fail(engine: Engine) -> Iterator[None]:
    """The database refuses every COMMIT (a full disk, a failover) while inside."""

    def refuse(_connection: object) -> None:
        raise OperationalError("COMMIT", {}, Exception("could not write: disk full"))

    event.listen(engine, "commit", refuse)
    try:
        yield
    finally:
        event.remove(engine, "commit", refuse)


def alert_status(engine: Engine, alert_id: int) -> str:
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        return alert.status


def test_a_note_longer_than_its_column_is_refused_naming_it(client, seeded, pg_engine):
    response = client.post(
        f"/api/v1/alerts/{seeded['alert']}/resolve",
        json={"note": "n" * 5000},
        headers={"Authorization": f"Bearer {seeded['key']}"},
    )
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["detail"]] == ["note"]
    assert alert_status(pg_engine, seeded["alert"]) == AlertStatus.OPEN


def test_a_failed_commit_is_an_error_answer_on_the_rest_api(client, seeded, pg_engine):
    with commits_fail(pg_engine):
        response = client.post(
            f"/api/v1/alerts/{seeded['alert']}/resolve",
            json={"note": "called her"},
            headers={"Authorization": f"Bearer {seeded['key']}"},
        )
    assert response.status_code == 503
    assert "not saved" in response.json()["detail"]
    assert alert_status(pg_engine, seeded["alert"]) == AlertStatus.OPEN


def test_a_failed_commit_is_an_error_page_on_the_web(client, seeded, pg_engine):
    token = login(client, seeded["staff"])
    with commits_fail(pg_engine):
        response = client.post(
            f"/app/alerts/{seeded['alert']}/ack",
            data={"csrf_token": token},
            follow_redirects=False,
        )
    assert response.status_code == 503  # not the 303 to "Alert acknowledged."
    assert "text/html" in response.headers["content-type"]
    assert "not saved" in response.text
    assert alert_status(pg_engine, seeded["alert"]) == AlertStatus.OPEN


def test_a_failed_commit_is_an_error_to_twilio_so_it_retries(client, pg_engine):
    mid = make_message(pg_engine, datetime.now(UTC))
    with commits_fail(pg_engine):
        response = post_status(client, mid=mid, status="delivered", apply=False)
    assert response.status_code == 503  # not 204: Twilio retries a 5xx
    message, _ = state(pg_engine, mid)
    assert message.status == MessageStatus.SENT


def test_a_status_callback_with_an_overlong_error_code_is_refused_naming_it(client, pg_engine):
    mid = make_message(pg_engine, datetime.now(UTC))
    response = post_status(client, mid=mid, status="failed", error="3" * 200)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "ErrorCode"
    message, _ = state(pg_engine, mid)
    assert message.status == MessageStatus.SENT


@pytest.mark.parametrize("mid", ["2147483648", "99999999999999999999999"])
def test_an_overflowing_message_id_on_a_status_callback_is_refused(client, pg_engine, mid):
    response = post_status(client, mid=mid, status="delivered")  # type: ignore[arg-type]
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "mid"


def test_a_stored_change_is_still_answered_as_before(client, seeded, pg_engine):
    response = client.post(
        f"/api/v1/alerts/{seeded['alert']}/resolve",
        json={"note": "called her"},
        headers={"Authorization": f"Bearer {seeded['key']}"},
    )
    assert response.status_code == 200 and response.json()["status"] == "resolved"
    assert alert_status(pg_engine, seeded["alert"]) == AlertStatus.RESOLVED
    with Session(pg_engine) as session:
        assert session.get(Message, 1) is None  # nothing else was written
