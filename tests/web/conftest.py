"""Web fixtures: the app on the shared in-memory database, and signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from service import accounts
from service.api.app import create_app
from service.config import Settings
from service.db.models import User

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Production argon2 parameters cost ~50 ms a hash; these tests hash and verify a lot.
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))


@pytest.fixture
def app(settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    return create_app(settings, engine=engine)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    # The settings' public URL is https, so cookies are Secure: talk https to the app.
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def login(client: TestClient, user: User, password: str = PASSWORD) -> str:
    """Sign `user` in; returns the session's CSRF token for later forms."""
    form = client.get("/app/login")
    response = client.post(
        "/app/login",
        data={"email": user.email, "password": password, "csrf_token": csrf_from(form.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/app/", follow_redirects=True)
    return csrf_from(page.text)


@pytest.fixture
def clinic(factory):  # type: ignore[no-untyped-def]
    return factory.clinic(name="Lakeside Aesthetics")


@pytest.fixture
def staff(factory, clinic) -> User:  # type: ignore[no-untyped-def]
    return factory.user(clinic, password=PASSWORD)


@pytest.fixture
def operator(factory) -> User:  # type: ignore[no-untyped-def]
    from service.domain import Role

    return factory.user(None, role=Role.OPERATOR, password=PASSWORD)
