"""REST: patients, enrolments and plans (DESIGN §5), through the real app and auth."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from service.api.app import create_app
from service.db.models import AuditLog, Message
from service.domain import Role

pytestmark = pytest.mark.parallel

PROCEDURE = "2026-03-03T10:00:00-05:00"


@pytest.fixture
def app(settings, engine, now):
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: now
    return app


@pytest.fixture
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture
def clinic(factory):
    return factory.clinic()


@pytest.fixture
def staff(factory, clinic):
    return {"Authorization": f"Bearer {factory.api_key(factory.user(clinic, Role.STAFF))}"}


def patient_body(**overrides):
    body = {
        "first_name": "Ana",
        "last_name": "Lopez",
        "phone": "(415) 555-0142",
        "email": "ana@example.com",
        "timezone": "America/Los_Angeles",
        "language": "es",
    }
    body.update(overrides)
    return body


def enrol(client, headers, **overrides):
    body = {"patient": patient_body(), "plan": "botox", "procedure_at": PROCEDURE}
    body.update(overrides)
    return client.post("/api/v1/enrollments", json=body, headers=headers)


def fields(response):
    return [error["field"] for error in response.json()["detail"]]


def test_it_creates_a_patient_with_an_e164_phone(client, staff, clinic):
    response = client.post("/api/v1/patients", json=patient_body(), headers=staff)
    assert response.status_code == 201
    data = response.json()
    assert data["phone"] == "+14155550142"
    assert data["clinic_id"] == clinic.id
    again = client.post("/api/v1/patients", json=patient_body(), headers=staff)
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert client.get(f"/api/v1/patients/{data['id']}", headers=staff).json() == data


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone": "555-01"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"language": "english!"}, "language"),
        ({"phone": None, "email": None}, "phone"),
    ],
)
def test_bad_patient_input_is_422_naming_the_field(client, staff, overrides, field):
    response = client.post("/api/v1/patients", json=patient_body(**overrides), headers=staff)
    assert response.status_code == 422
    assert fields(response) == [field]


def test_every_bad_patient_field_is_named_in_one_answer(client, staff):
    body = patient_body(phone=None, email=None, timezone="Mars/Olympus", language="english!")
    response = client.post("/api/v1/patients", json=body, headers=staff)
    assert response.status_code == 422
    assert fields(response) == ["phone", "timezone", "language"]
    inline = enrol(client, staff, patient=body)
    assert fields(inline) == ["patient.phone", "patient.timezone", "patient.language"]


def test_an_international_number_is_accepted_with_its_code_or_its_country(client, staff):
    coded = client.post("/api/v1/patients", json=patient_body(phone="+44 7911 123456"),
                        headers=staff)  # fmt: skip
    assert coded.status_code == 201 and coded.json()["phone"] == "+447911123456"
    local = client.post("/api/v1/patients", headers=staff, json=patient_body(
        first_name="Bea", phone="07911 123457", country="GB"))  # fmt: skip
    assert local.status_code == 201 and local.json()["phone"] == "+447911123457"
    unknown = client.post("/api/v1/patients", headers=staff, json=patient_body(country="ZZ"))
    assert unknown.status_code == 422 and fields(unknown) == ["country"]


def test_enrolment_is_201_then_200_for_the_same_patient_plan_and_time(client, staff):
    first = enrol(client, staff)
    assert first.status_code == 201, first.text
    data = first.json()
    assert data["plan_key"] == "botox" and data["status"] == "active"
    assert data["messages"], "every planned message is visible from the start"
    message = data["messages"][0]
    assert {
        "id",
        "step",
        "channel",
        "status",
        "status_reason",
        "due_at",
        "next_attempt_at",
        "valid_until",
        "sent_at",
        "delivered_at",
    } <= set(message)
    again = enrol(client, staff, procedure_at="2026-03-03T15:00:00Z")
    assert again.status_code == 200
    assert again.json()["id"] == data["id"]
    fetched = client.get(f"/api/v1/enrollments/{data['id']}", headers=staff)
    assert fetched.json() == {**data, "warnings": []}  # the warning is said at enrolment
    assert "has not been signed off by a clinician" in data["warnings"][0]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"plan": "liposuction"}, "plan"),
        ({"procedure_at": "2026-03-03T10:00:00"}, "procedure_at"),
        ({"procedure_at": "2028-03-03T10:00:00Z"}, "procedure_at"),
        ({"patient": patient_body(phone="12")}, "patient.phone"),
        ({"patient": patient_body(timezone="Nowhere/Land")}, "patient.timezone"),
        ({"patient": None}, "patient"),
    ],
)
def test_bad_enrolment_input_is_422_naming_the_field(client, staff, overrides, field):
    response = enrol(client, staff, **overrides)
    assert response.status_code == 422, response.text
    assert fields(response) == [field]


def test_enrolment_by_patient_id(client, staff):
    patient = client.post("/api/v1/patients", json=patient_body(), headers=staff).json()
    response = enrol(client, staff, patient=None, patient_id=patient["id"])
    assert response.status_code == 201
    assert response.json()["patient_id"] == patient["id"]


def test_another_clinics_records_are_404_and_operators_cannot_write(client, staff, factory):
    created = enrol(client, staff).json()
    other = factory.clinic()
    other_staff = {"Authorization": f"Bearer {factory.api_key(factory.user(other))}"}
    url = f"/api/v1/enrollments/{created['id']}"
    assert client.get(url, headers=other_staff).status_code == 404
    assert client.post(f"{url}/pause", headers=other_staff).status_code == 404
    assert (
        client.get(f"/api/v1/patients/{created['patient_id']}", headers=other_staff).status_code
        == 404
    )
    operator = {"Authorization": f"Bearer {factory.api_key(factory.user(None, Role.OPERATOR))}"}
    assert client.post(f"{url}/cancel", headers=operator).status_code == 403
    assert enrol(client, operator).status_code == 403
    assert client.get(url, headers=operator).status_code == 200


def test_admins_without_a_clinic_must_name_one(client, factory, clinic):
    admin = {"Authorization": f"Bearer {factory.api_key(factory.user(None, Role.ADMIN))}"}
    missing = enrol(client, admin)
    assert missing.status_code == 422 and fields(missing) == ["clinic_id"]
    assert enrol(client, admin, clinic_id=clinic.id).status_code == 201


def test_pause_resume_cancel_and_resume_a_cancelled_plan(client, staff, session):
    created = enrol(client, staff).json()
    url = f"/api/v1/enrollments/{created['id']}"
    paused = client.post(f"{url}/pause", json={"reason": "patient travelling"}, headers=staff)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert client.post(f"{url}/resume", headers=staff).json()["status"] == "active"
    cancelled = client.post(f"{url}/cancel", json={"reason": "wrong plan"}, headers=staff)
    assert cancelled.json()["status"] == "cancelled"
    assert {m["status"] for m in cancelled.json()["messages"]} == {"cancelled"}
    again = client.post(f"{url}/resume", json={"reason": "procedure rebooked"}, headers=staff)
    assert again.status_code == 200 and again.json()["status"] == "active"
    assert "scheduled" in {m["status"] for m in again.json()["messages"]}
    audit = session.exec(select(AuditLog.action, AuditLog.reason)).all()
    assert ("enrollment.pause", "patient travelling") in audit
    assert ("enrollment.cancel", "wrong plan") in audit
    assert ("enrollment.reactivate", "procedure rebooked") in audit


def test_resuming_a_cancelled_plan_with_nothing_left_ahead_is_409(client, staff):
    old = enrol(client, staff, procedure_at="2025-03-10T10:00:00-05:00").json()
    url = f"/api/v1/enrollments/{old['id']}"
    client.post(f"{url}/cancel", headers=staff)
    conflict = client.post(f"{url}/resume", headers=staff)
    assert conflict.status_code == 409 and "nothing left to send" in conflict.json()["detail"]


def test_patch_reschedules_unsent_messages(client, staff, session):
    created = enrol(client, staff).json()
    before = {m["id"]: m["due_at"] for m in created["messages"]}
    response = client.patch(
        f"/api/v1/enrollments/{created['id']}",
        json={"procedure_at": "2026-03-10T10:00:00-05:00", "reason": "moved by a week"},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    after = {m["id"]: m["due_at"] for m in response.json()["messages"]}
    assert set(before) <= set(after)
    assert all(after[i] != before[i] for i in before)
    assert response.json()["procedure_at"].startswith("2026-03-10T15:00")
    row = session.get(Message, next(iter(before)))
    assert row.due_at - timedelta(days=7) <= row.due_at


def test_plans_are_listed_with_their_steps(client, staff):
    plans = client.get("/api/v1/plans", headers=staff).json()
    keys = [p["key"] for p in plans]
    assert "botox" in keys
    botox = plans[keys.index("botox")]
    assert botox["version"] >= 1 and botox["steps"]
    assert {"key", "offset", "channels", "priority"} <= set(botox["steps"][0])


def test_the_enrolment_paths_are_in_openapi(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/patients",
        "/api/v1/enrollments",
        "/api/v1/enrollments/{enrollment_id}",
        "/api/v1/enrollments/{enrollment_id}/pause",
        "/api/v1/plans",
    ):
        assert path in paths


def test_a_language_no_plan_has_is_422_naming_the_language_field(client, staff, session):
    inline = enrol(client, staff, patient=patient_body(language="fr"))
    assert inline.status_code == 422 and fields(inline) == ["patient.language"]
    assert "available: en, es" in inline.json()["detail"][0]["msg"]
    alone = client.post("/api/v1/patients", json=patient_body(language="fr"), headers=staff)
    assert alone.status_code == 422 and fields(alone) == ["language"]
    from service.db.models import Patient

    assert session.exec(select(Patient)).all() == []  # nothing half-made


def test_an_existing_patient_in_an_unknown_language_cannot_be_enrolled(
    client, staff, factory, clinic
):
    patient = factory.patient(clinic, language="fr")
    response = enrol(client, staff, patient=None, patient_id=patient.id)
    assert response.status_code == 422 and fields(response) == ["language"]
