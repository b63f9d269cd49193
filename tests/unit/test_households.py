"""Enrolment accepts a number another patient of the clinic has, says so, records it."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from service.config import DEFAULT_TEMPLATES_DIR
from service.csv_import import import_rows, read_rows
from service.db.models import AuditLog, Patient
from service.plans.catalog import load_catalog
from tests.factories import Factory


@pytest.fixture
def client(api_client: TestClient) -> TestClient:
    return api_client


def enrol_over_rest(client: TestClient, key: str, first: str, phone: str, now: datetime) -> dict:  # type: ignore[type-arg]
    body = {"patient": {"first_name": first, "last_name": "Ruiz", "phone": phone},
            "plan": "botox", "procedure_at": (now + timedelta(days=1)).isoformat()}  # fmt: skip
    response = client.post("/api/v1/enrollments", json=body,
                           headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def test_rest_enrols_a_second_patient_on_a_number_and_says_whose_it_also_is(
    client: TestClient, factory: Factory, session: Session, now: datetime
) -> None:
    clinic = factory.clinic()
    key = factory.api_key(factory.user(clinic))
    first = enrol_over_rest(client, key, "Ana", "(415) 555-0123", now)
    assert not [w for w in first["warnings"] if "also belongs" in w]
    second = enrol_over_rest(client, key, "Ben", "415 555 0123", now)
    [warning] = [w for w in second["warnings"] if "also belongs" in w]
    ana = session.exec(select(Patient).where(Patient.first_name == "Ana")).one()
    assert f"this number also belongs to Ana Ruiz (#{ana.id})" in warning
    [audit] = session.exec(select(AuditLog).where(AuditLog.action == "patient.shared_phone")).all()
    assert audit.entity_id == second["patient_id"]
    assert audit.detail == {"shares_phone_with": [ana.id]}
    # Another clinic's patient on the same number is no business of this clinic.
    other_key = factory.api_key(factory.user(factory.clinic()))
    elsewhere = enrol_over_rest(client, other_key, "Cy", "(415) 555-0123", now)
    assert not [w for w in elsewhere["warnings"] if "also belongs" in w]


def test_csv_import_names_each_line_that_shares_a_number(
    session: Session, factory: Factory, now: datetime
) -> None:
    clinic = factory.clinic()
    factory.patient(clinic, first_name="Ana", last_name="Ruiz", phone="+14155550123")
    text = ("first_name,last_name,phone,plan,procedure_at\n"
            "Ben,Ruiz,(415) 555-0123,botox,2026-03-03T10:00:00Z\n"
            "Cy,Lee,(415) 555-0199,botox,2026-03-03T10:00:00Z\n")  # fmt: skip
    report = import_rows(session, clinic=clinic, catalog=load_catalog(DEFAULT_TEMPLATES_DIR),
                         rows=read_rows(io.StringIO(text)), now=now, actor="user:1")  # fmt: skip
    assert report.enrolled == 2 and not report.errors
    [warning] = [w for w in report.warnings if "also belongs" in w]
    assert warning.startswith("line 2: this number also belongs to Ana Ruiz (#")
    assert session.exec(select(AuditLog).where(AuditLog.action == "patient.shared_phone")).one()
