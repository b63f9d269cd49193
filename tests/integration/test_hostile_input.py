"""Hostile input on PostgreSQL is a 4xx naming the field, never a 500.

Each case is one the outside security test found answering 500: ids past 2^31-1, an
offset past 2^63, an instant that leaves year 1 once in UTC, non-UTF-8 webhook bodies,
NUL characters, a language longer than its column, a naive 9999-12-31T23:59 in the web
forms and the CSV import, and a CSV cell past the csv module's limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select

from service import accounts
from service.api.app import create_app
from service.db.models import Enrollment, InboundMessage, Patient
from service.domain import Role
from service.fakes.twilio_server import TEST_AUTH_TOKEN
from tests.factories import Factory
from tests.integration.test_inbound_webhooks import (
    CLINIC_NUMBER,
    PATIENT_PHONE,
    PUBLIC,
    SECRET,
    post_sms,
    sms_params,
)
from tests.web.conftest import PASSWORD, login

pytestmark = [pytest.mark.postgres, pytest.mark.parallel]


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))


@pytest.fixture
def client(pg_settings, pg_engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = pg_settings.model_copy(update={
        "public_base_url": PUBLIC, "twilio_auth_token": SecretStr(TEST_AUTH_TOKEN),
        "email_inbound_secret": SecretStr(SECRET),
    })  # fmt: skip
    with TestClient(create_app(settings, engine=pg_engine), base_url=PUBLIC) as client:
        yield client


@pytest.fixture
def seeded(pg_engine):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with Session(pg_engine, expire_on_commit=False) as session:
        factory = Factory(session)
        clinic = factory.clinic(sms_from=CLINIC_NUMBER, email_from="care@glow.test")
        patient = factory.patient(clinic, phone=PATIENT_PHONE, email="ana@example.test")
        enrollment = factory.enrol(clinic, patient, procedure_at=now + timedelta(days=2), now=now)
        staff = factory.user(clinic, password=PASSWORD)
        key = factory.api_key(staff)
        session.commit()
        return {"key": key, "staff": staff, "patient": patient, "enrollment": enrollment}


def fields(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    return [item["field"] for item in response.json()["detail"]]


def api(client: TestClient, seeded, method: str, path: str, **kw):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {seeded['key']}"}
    return client.request(method, path, headers=headers, **kw)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/patients/2147483648", "patient_id"),
        ("/api/v1/enrollments/99999999999999999999", "enrollment_id"),
        ("/api/v1/messages/2147483648", "message_id"),
        ("/api/v1/messages?patient=2147483648", "patient"),
        ("/api/v1/messages?clinic=2147483648", "clinic"),
        ("/api/v1/messages?offset=9223372036854775808", "offset"),
        ("/api/v1/messages?due_from=0001-01-01T00:00:00%2B14:00", "due_from"),
        ("/api/v1/messages?due_to=9999-12-31T23:59:00-12:00", "due_to"),
        ("/api/v1/alerts?clinic_id=2147483648", "clinic_id"),
        ("/api/v1/replies?clinic_id=2147483648", "clinic_id"),
    ],
)
def test_out_of_range_ids_offsets_and_instants_are_named(client, seeded, path, field):
    assert fields(api(client, seeded, "GET", path)) == [field]


def test_a_nul_in_a_name_is_named(client, seeded):
    body = {"first_name": "Ana\u0000", "phone": "+14155550188"}
    assert fields(api(client, seeded, "POST", "/api/v1/patients", json=body)) == ["first_name"]


def test_a_nul_in_a_reason_is_named(client, seeded):
    enrollment = seeded["enrollment"].id
    response = api(client, seeded, "POST", f"/api/v1/enrollments/{enrollment}/pause",
                   json={"reason": "travel\u0000"})  # fmt: skip
    assert fields(response) == ["reason"]


@pytest.mark.parametrize("language", ["x" * 40, "en-abcdefgh"])
def test_a_language_longer_than_its_column_is_named(client, seeded, language):
    body = {"first_name": "Ana", "phone": "+14155550188", "language": language}
    assert fields(api(client, seeded, "POST", "/api/v1/patients", json=body)) == ["language"]


@pytest.mark.parametrize("path", ["/webhooks/twilio/sms", "/webhooks/twilio/status"])
def test_a_non_utf8_body_to_a_twilio_webhook_is_named_before_the_signature(client, path):
    response = client.post(
        path,
        content=b"Body=caf\xe9&From=%2B14155550123",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert fields(response) == ["body"]


def test_a_nul_in_a_signed_sms_is_dropped_and_the_words_kept(client, seeded, pg_engine):
    response = post_sms(client, sms_params("my lips\u0000 are blue"))
    assert response.status_code == 200
    with Session(pg_engine) as session:
        stored = session.exec(select(InboundMessage)).one()
        assert stored.body == "my lips are blue"


def test_a_quoted_printable_nul_in_an_email_is_dropped_and_the_words_kept(
    client, seeded, pg_engine
):
    email = EmailMessage()
    email["From"] = "ana@example.test"
    email["To"] = "care@glow.test"
    email["Subject"] = "Re: day 1"
    email["Message-ID"] = "<" + "x" * 300 + "@example.test>"  # longer than its column
    email.set_content("my lips =00are blue", cte="7bit")
    raw = email.as_bytes().replace(b"Content-Transfer-Encoding: 7bit",
                                   b"Content-Transfer-Encoding: quoted-printable")  # fmt: skip
    response = client.post("/webhooks/email/inbound", content=raw,
                           headers={"X-Aftercare-Secret": SECRET})  # fmt: skip
    assert response.status_code == 200, response.text
    with Session(pg_engine) as session:
        stored = session.exec(select(InboundMessage)).one()
        assert "\x00" not in stored.body and "are blue" in stored.body
        assert len(stored.provider_id) <= 200


def test_a_naive_far_future_date_in_the_web_enrol_form_is_named(client, seeded):
    token = login(client, seeded["staff"])
    response = client.post("/app/enrol", data={
        "csrf_token": token, "first_name": "Dana", "phone": "+14155550142", "plan": "botox",
        "procedure_at": "9999-12-31T23:59", "sms_consent": "on",
    })  # fmt: skip
    assert response.status_code in (200, 422)
    assert "within a year of today" in response.text


def test_a_naive_far_future_date_in_the_web_reschedule_is_named(client, seeded, pg_engine):
    token = login(client, seeded["staff"])
    enrollment = seeded["enrollment"]
    form = {"csrf_token": token, "procedure_at": "9999-12-31T23:59"}
    response = client.post(f"/app/enrollments/{enrollment.id}/reschedule", data=form)
    assert response.status_code < 500
    assert "within a year of today" in response.text
    with Session(pg_engine) as session:
        kept = session.get(Enrollment, enrollment.id)
        assert kept is not None and kept.procedure_at == enrollment.procedure_at


def _import(client: TestClient, token: str, content: bytes):  # type: ignore[no-untyped-def]
    files = {"file": ("patients.csv", content, "text/csv")}
    return client.post("/app/import", data={"csrf_token": token, "plan": "botox"}, files=files)


def test_a_naive_far_future_date_in_a_csv_import_names_its_line(client, seeded, pg_engine):
    token = login(client, seeded["staff"])
    csv = ("first_name,phone,procedure_at\n"
           f"Ana,+14155550101,{(datetime.now(UTC) + timedelta(days=3)):%Y-%m-%dT10:00}\n"
           "Ben,+14155550102,9999-12-31T23:59\n").encode()  # fmt: skip
    page = _import(client, token, csv)
    assert page.status_code == 200
    assert '<td data-label="Line">3</td><td data-label="Column">procedure_at</td>' in page.text
    with Session(pg_engine) as session:
        names = {p.first_name for p in session.exec(select(Patient))}
        assert "Ana" in names and "Ben" not in names  # the good line is enrolled


def test_a_csv_cell_past_the_limit_names_its_line_and_stores_nothing(client, seeded, pg_engine):
    token = login(client, seeded["staff"])
    csv = ("first_name,phone,procedure_at\n"
           f"Ana,+14155550101,{(datetime.now(UTC) + timedelta(days=3)):%Y-%m-%dT10:00}\n"
           f"{'B' * 140_000},+14155550102,2026-12-01T10:00\n").encode()  # fmt: skip
    page = _import(client, token, csv)
    assert page.status_code == 422
    assert "line 3" in page.text and "field larger than field limit" in page.text
    with Session(pg_engine) as session:
        assert "Ana" not in {p.first_name for p in session.exec(select(Patient))}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/app/patients/2147483648", 404),
        ("/app/enrollments/99999999999/record", 404),
        ("/app/patients?before=99999999999", 422),
        ("/app/media/99999999999/0", 422),
    ],
)
def test_out_of_range_ids_in_web_pages_are_pages_not_500s(client, seeded, path, status):
    login(client, seeded["staff"])
    response = client.get(path)
    assert response.status_code == status
    assert "text/html" in response.headers["content-type"]


def test_a_nul_in_a_patient_search_is_not_a_500(client, seeded):
    login(client, seeded["staff"])
    assert client.get("/app/patients?q=An%00a").status_code == 200


def test_out_of_range_log_filters_are_explained(client, seeded, pg_engine):
    with Session(pg_engine, expire_on_commit=False) as session:
        operator = Factory(session).user(None, Role.OPERATOR, password=PASSWORD)
        session.commit()
    login(client, operator)
    for query in ("clinic_id=2147483648", "clinic_id=%C2%B2", "date_to=9999-12-31",
                  "before=0001-01-01T00:00:00%2B14:00_1"):  # fmt: skip
        response = client.get(f"/app/ops/messages?{query}")
        assert response.status_code == 200, query
