"""The migration head matches the models, and upgrade/downgrade run on both back-ends."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from service.config import load_settings
from service.db import migrate

pytestmark = pytest.mark.parallel

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
    "senders",
    "clinic_content_versions",
    "clinic_content_signoffs",
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


def test_0008_moves_each_clinics_rate_to_its_sender(tmp_path):
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/m.db")
    migrate.upgrade(settings, "0007")
    engine = create_engine(settings.database_url)
    clinics = [("a", "+14155550166", None, 5.0), ("b", "+14155550166", None, 2.0),
               ("c", "+18885550166", None, 1.0), ("d", None, "MG" + "b" * 32, 1.0),
               ("e", None, None, 9.0)]  # fmt: skip
    with engine.begin() as conn:
        for slug, number, service, rate in clinics:
            conn.execute(
                text("INSERT INTO clinics (name, slug, timezone, default_region, contact_phone,"
                     " emergency_phone, phone_24h, quiet_start, quiet_end, night_start,"
                     " night_end, sms_from, messaging_service_sid, sender_rate_per_second,"
                     " alert_ack_minutes, created_at) VALUES (:s, :s, 'UTC', 'US',"
                     " '+14155550100', '911', 0, '20:00:00', '08:00:00', '21:00:00',"
                     " '08:00:00', :n, :m, :r, 15, '2026-01-01 00:00:00')"),
                {"s": slug, "n": number, "m": service, "r": rate},
            )  # fmt: skip
    migrate.upgrade(settings)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT address, kind, rate_per_second, burst FROM senders"))
        made = {row[0]: tuple(row[1:]) for row in rows}
    engine.dispose()
    assert made == {
        "+14155550166": ("long_code", 2.0, 2),  # shared: the lowest rate either had
        "+18885550166": ("toll_free", 3.0, 3),  # left at the old default: its kind's
        "MG" + "b" * 32: ("messaging_service", 1.0, 1),
    }


def test_0011_folds_each_existing_patients_name_for_search(tmp_path):
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/m.db")
    migrate.upgrade(settings, "0010")
    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO clinics (name, slug, timezone, default_region,"
                " contact_phone, emergency_phone, phone_24h, quiet_start, quiet_end,"
                " night_start, night_end, alert_ack_minutes, created_at) VALUES"
                " ('c', 'c', 'UTC', 'US', '+14155550100', '911', 0, '20:00:00',"
                " '08:00:00', '21:00:00', '08:00:00', 15, '2026-01-01 00:00:00')"
            )
        )
        for first, last in (("Lucía", "Núñez"), ("ØYVIND", "Ærø"), ("Ann", "")):
            conn.execute(text("INSERT INTO patients (clinic_id, first_name, last_name,"
                              " phone_can_sms, timezone, language, created_at) VALUES (1, :f,"
                              " :l, 1, 'UTC', 'en', '2026-01-01 00:00:00')"),
                         {"f": first, "l": last})  # fmt: skip
    migrate.upgrade(settings)
    with engine.connect() as conn:
        names = [row[0] for row in conn.execute(text("SELECT search_name FROM patients"))]
    engine.dispose()
    assert names == ["lucia nunez", "oyvind aero", "ann"]
