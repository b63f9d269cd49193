"""Schemathesis over the whole OpenAPI on PostgreSQL, as staff and as an admin.

Every operation gets a bounded number of generated requests, valid and invalid (ids past
2^31, huge offsets, year-0 instants, NULs, non-UTF-8 bodies...), checked as
tests/fuzz_support.py says; `bench/security.py` runs the same sweep with far more
examples.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine
from sqlmodel import Session

from service.api.app import create_app
from service.config import load_settings
from service.domain import Role
from tests.factories import Factory
from tests.fuzz_support import CHECKS

pytestmark = [pytest.mark.postgres, pytest.mark.parallel]

EXAMPLES = 15


class AppUnderTest:
    """The ASGI app the schema calls: each test points it at its own database."""

    def __init__(self, target: Callable[..., Any]) -> None:
        self.target = target

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


def _schema_only_app() -> Any:
    config = load_settings(database_url="sqlite://", scheduler_enabled=False, environment="test")
    return create_app(config, engine=create_engine("sqlite://"))


APP = AppUnderTest(_schema_only_app())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture
def keys(pg_settings, pg_engine) -> list[str]:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with Session(pg_engine, expire_on_commit=False) as session:
        factory = Factory(session)
        clinic = factory.clinic()
        patient = factory.patient(clinic)
        factory.enrol(clinic, patient, procedure_at=now + timedelta(days=1), now=now)
        staff = factory.api_key(factory.user(clinic, Role.STAFF))
        admin = factory.api_key(factory.user(None, Role.ADMIN))
        session.commit()
    APP.target = create_app(pg_settings, engine=pg_engine)
    return [staff, admin]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_no_server_error_and_every_answer_as_documented(case, keys) -> None:  # type: ignore[no-untyped-def]
    for key in keys:
        case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
