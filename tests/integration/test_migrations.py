"""The migration head matches the models, and upgrade/downgrade run on both back-ends."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from service.config import load_settings
from service.db import migrate

EXPECTED_TABLES = {
    "clinics",
    "oncall_recipients",
    "patients",
    "plan_versions",
    "enrollments",
    "messages",
    "message_events",
    "inbound_messages",
    "alerts",
    "users",
    "api_keys",
    "audit_log",
    "worker_heartbeats",
    "plan_signoffs",
    "reply_items",
    "user_sessions",
    "login_throttles",
    "reply_candidates",
    "status_callbacks",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    settings = load_settings(database_url=url)
    migrate.upgrade(settings)
    assert _tables(settings.database_url) == EXPECTED_TABLES
    migrate.check(settings)  # raises when models and the head disagree
    migrate.downgrade(settings, "base")
    assert _tables(settings.database_url) == set()
    migrate.upgrade(settings)
    assert _tables(settings.database_url) == EXPECTED_TABLES


def test_sqlite_upgrade_check_downgrade(tmp_path):
    _round_trip(f"sqlite:///{tmp_path}/m.db")


@pytest.mark.postgres
def test_postgresql_upgrade_check_downgrade(pg_url):
    # pg_url is already at head (cloned from the template): start from base.
    migrate.downgrade(load_settings(database_url=pg_url), "base")
    _round_trip(pg_url)
