"""Security headers on every response; HSTS in production; the API documentation and the
metrics closed in production unless signed in, keyed or opened by a setting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service import accounts
from service.api.app import create_app
from service.domain import Role
from service.unsubscribe import make_token
from tests.factories import Factory
from tests.web.conftest import PASSWORD, login

PATHS = [
    ("GET", "/", 303),  # a redirect
    ("GET", "/app/alerts", 303),  # a redirect to the login page
    ("GET", "/app/login", 200),
    ("GET", "/healthz", 200),
    ("GET", "/api/v1/me", 401),
    ("GET", "/nowhere", 404),
    ("GET", "/app/static/web.css", 200),
    ("GET", "/docs/assets/swagger-ui.css", 200),
    ("POST", "/webhooks/twilio/sms", 403),
    ("GET", "/unsubscribe/not-a-token", 404),
]


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))


def client_for(settings, engine, **changes) -> TestClient:  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update=changes), engine=engine)
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


@pytest.fixture
def client(settings, engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with client_for(settings, engine) as client:
        yield client


@pytest.fixture
def production(settings, engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with client_for(settings, engine, environment="production") as client:
        yield client


@pytest.mark.parametrize(("method", "path", "status"), PATHS)
def test_every_kind_of_response_carries_the_security_headers(client, method, path, status):
    response = client.request(method, path)
    assert response.status_code == status
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"]
    assert "Strict-Transport-Security" not in headers  # only in production


def test_the_unsubscribe_page_cannot_be_framed(client, factory: Factory, settings):
    patient = factory.patient(factory.clinic())
    token = make_token(secret_key=settings.secret_key.get_secret_value(), patient_id=patient.id)
    for response in (client.get(f"/unsubscribe/{token}"), client.post(f"/unsubscribe/{token}")):
        assert response.status_code == 200
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"


def test_api_answers_are_never_stored(client, factory: Factory):
    key = factory.api_key(factory.user(factory.clinic()))
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("method", "path", "status"), PATHS[:5])
def test_production_sends_hsts_on_every_response(production, method, path, status):
    response = production.request(method, path)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_the_docs_are_open_outside_production(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_production_docs_need_an_admin_or_a_key(production, factory: Factory, path):
    assert production.get(path).status_code == 401
    staff = factory.user(factory.clinic(), Role.STAFF, password=PASSWORD)
    key = factory.api_key(staff)
    assert production.get(path, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert production.get(path, headers={"Authorization": "Bearer ac_x_wrong"}).status_code == 401
    login(production, staff)
    assert production.get(path).status_code == 401  # a staff session is not an admin's
    production.cookies.clear()
    login(production, factory.user(None, Role.ADMIN, password=PASSWORD))
    assert production.get(path).status_code == 200


def test_a_setting_opens_the_docs_in_production(settings, engine):
    with client_for(settings, engine, environment="production", docs_public=True) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 200


def test_production_metrics_are_off_without_a_token(production):
    assert production.get("/metrics").status_code == 404


def test_metrics_with_a_token_need_it(settings, engine):
    token = "m" * 8 + "Yq3vF0aZ7cT9mK2pW8xR4nB6dH1sJ5gL0eU3iO7"
    with client_for(settings, engine, metrics_token=SecretStr(token)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and "aftercare" in ok.text


def test_metrics_are_open_in_development_without_a_token(client):
    assert client.get("/metrics").status_code == 200
