"""Shared fixtures.

- `engine` / `session`: an in-memory SQLite database built from the models (unit tests).
- `pg_url` / `pg_engine`: a fresh PostgreSQL database per test, cloned from a template
  migrated once per run and xdist worker (integration tests). With CI=true an unreachable
  PostgreSQL is a failure, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel

import service.db.models  # noqa: F401
from service.composer import Composer
from service.config import Settings, load_settings
from service.rendering import Renderer
from tests.factories import Factory

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FROZEN_NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("AFTERCARE_TESTING", "1")


# Unit and web tests run on in-memory SQLite with no servers and no wall clock to keep, so
# `make test` runs them (and the integration tests marked `parallel`) in xdist workers
# first, then the rest one at a time: those time real servers, processes and browsers.
PARALLEL_FOLDERS = ("unit", "web")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name in PARALLEL_FOLDERS:
            item.add_marker(pytest.mark.parallel)


@pytest.fixture
def now() -> datetime:
    """A fixed instant: time is an argument everywhere, tests pass this one."""
    return FROZEN_NOW


@pytest.fixture
def settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return load_settings(
        database_url=f"sqlite:///{tmp_path}/aftercare.db",
        scheduler_enabled=False,
        environment="test",
        secret_key="test-secret-key-0123456789",
        public_base_url="https://aftercare.example.test",
    )


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def factory(session: Session) -> Factory:
    return Factory(session)


@pytest.fixture
def composer(settings: Settings) -> Composer:
    """Replies and pages rendered from the shipped templates, linking to a test URL."""
    return Composer(renderer=Renderer(settings.templates_dir), base_url="https://care.test")


@pytest.fixture
def api_client(settings: Settings, engine: Engine, now: datetime) -> Iterator[TestClient]:
    """The app on the in-memory database, its clock frozen at `now`."""
    from service.api.app import create_app

    app = create_app(settings, engine=engine)
    app.state.clock = lambda: now
    with TestClient(app) as client:
        yield client


# --- PostgreSQL ---------------------------------------------------------------------


def _admin_engine() -> Engine:
    return create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database migrated to head once per run; tests clone it (fast, isolated)."""
    from service.db import migrate

    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connection failure
        admin.dispose()
        message = f"PostgreSQL not reachable at {ADMIN_URL}: {exc.__class__.__name__}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests are required)")
        pytest.skip(message)
    name = f"aftercare_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = _url_for(name)
    migrate.upgrade(load_settings(database_url=url))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _url_for(database: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for this test only."""
    name = f"aftercare_t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield _url_for(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_settings(pg_url: str, settings: Settings) -> Settings:
    return settings.model_copy(update={"database_url": pg_url})


@pytest.fixture
def pg_engine(pg_settings: Settings) -> Iterator[Engine]:
    from service.db.engine import make_engine

    engine = make_engine(pg_settings)
    yield engine
    engine.dispose()
