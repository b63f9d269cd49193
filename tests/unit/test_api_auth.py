"""REST authentication: bearer API keys, stored hashed, shown once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from service.api.app import create_app
from service.db.models import ApiKey, AuditLog
from service.domain import Role


@pytest.fixture
def client(settings, engine):
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


def test_health_needs_no_key(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_metrics_are_prometheus_text(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "aftercare_messages_sent_total" in response.text


def test_the_api_is_described_by_openapi(client):
    spec = client.get("/openapi.json").json()
    assert "/api/v1/me" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_no_key_is_401(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_an_unknown_key_is_401(client):
    assert (
        client.get("/api/v1/me", headers={"Authorization": "Bearer ac_nope_x"}).status_code == 401
    )


def test_a_valid_key_identifies_its_user(client, factory):
    clinic = factory.clinic()
    user = factory.user(clinic, Role.STAFF)
    key = factory.api_key(user)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.json() == {"user_id": user.id, "role": "staff", "clinic_id": clinic.id}


def test_only_a_hash_of_the_key_is_stored(factory, session):
    user = factory.user(factory.clinic())
    key = factory.api_key(user)
    row = session.exec(select(ApiKey)).one()
    assert key not in (row.key_hash, row.prefix, row.name)
    assert session.exec(select(AuditLog).where(AuditLog.action == "api_key.create")).one()


def test_a_revoked_key_is_401(client, factory, session, now):
    user = factory.user(factory.clinic())
    key = factory.api_key(user)
    row = session.exec(select(ApiKey)).one()
    row.revoked_at = now
    session.add(row)
    session.commit()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
