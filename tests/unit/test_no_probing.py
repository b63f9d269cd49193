"""Every REST route with an id answers another clinic's record exactly as a missing one:
same status, same body, so ids cannot be probed across clinics (asked by a clinic admin,
who may call every one of them for their own clinic)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from service.alerts import open_alert
from service.api.app import create_app
from service.db.models import Message
from service.domain import AlertSeverity, Role
from tests.factories import Factory
from tests.unit.test_replies_api import file_reply

MISSING = 987654
ROUTES = [
    ("get", "/api/v1/patients/{patient}", None),
    ("get", "/api/v1/enrollments/{enrollment}", None),
    ("post", "/api/v1/enrollments/{enrollment}/pause", {}),
    ("post", "/api/v1/enrollments/{enrollment}/resume", {}),
    ("post", "/api/v1/enrollments/{enrollment}/cancel", {}),
    ("patch", "/api/v1/enrollments/{enrollment}", {}),
    ("get", "/api/v1/messages/{message}", None),
    ("post", "/api/v1/alerts/{alert}/ack", None),
    ("post", "/api/v1/alerts/{alert}/resolve", {}),
    ("post", "/api/v1/patients/{patient}/messages", {"text": "hi"}),
    ("post", "/api/v1/replies/{reply}/handled", None),
    ("post", "/api/v1/replies/{reply}/assign", {"patient_id": 1}),
    ("post", "/api/v1/patients/{patient}/messages", {"text": "hello"}),
    ("get", "/api/v1/clinics/{clinic}/oncall", None),
    ("put", "/api/v1/clinics/{clinic}/oncall", {"oncall": []}),
    ("get", "/api/v1/clinics/{clinic}/settings", None),
    ("patch", "/api/v1/clinics/{clinic}/settings", {"name": "Mine now"}),
    ("get", "/api/v1/clinics/{clinic}/settings/history", None),
]


@pytest.fixture
def client(settings, engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


@pytest.fixture
def theirs(factory: Factory, session, now) -> dict[str, object]:  # type: ignore[no-untyped-def]
    ours, other = factory.clinic(), factory.clinic()
    patient = factory.patient(other)
    enrollment = factory.enrol(other, patient, procedure_at=now + timedelta(days=1), now=now)
    alert = open_alert(session, clinic=other, severity=AlertSeverity.URGENT, kind="k",
                       summary="s", now=now)  # fmt: skip
    reply = file_reply(session, other, "hello", "other", now, [patient])
    session.commit()
    message = session.exec(select(Message).where(Message.clinic_id == other.id)).first()
    return {
        # A clinic admin may do all that staff may, and change the clinic's settings.
        "key": factory.api_key(factory.user(ours, Role.CLINIC_ADMIN)),
        "ids": {"patient": patient.id, "enrollment": enrollment.id, "message": message.id,
                "alert": alert.id, "reply": reply.id, "clinic": other.id},
    }  # fmt: skip


@pytest.mark.parametrize(("method", "template", "body"), ROUTES)
def test_another_clinics_record_is_answered_like_a_missing_one(
    client, theirs, method, template, body
):
    headers = {"Authorization": f"Bearer {theirs['key']}"}
    kind = template.split("{")[1].split("}")[0]

    def call(record_id: int):  # type: ignore[no-untyped-def]
        path = template.replace("{" + kind + "}", str(record_id))
        return client.request(method, path, json=body, headers=headers)

    elsewhere, missing = call(theirs["ids"][kind]), call(MISSING)
    assert elsewhere.status_code == missing.status_code == 404
    assert elsewhere.json() == missing.json()
