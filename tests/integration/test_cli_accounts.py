"""From nothing to an authenticated API call with the CLI alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import load_settings

pytestmark = pytest.mark.parallel


def aftercare(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _bootstrap(database_url: str) -> dict[str, object]:
    assert aftercare("db", "upgrade", database_url=database_url).returncode == 0
    clinic = aftercare(
        "clinics",
        "create",
        "--name",
        "Lakeside Aesthetics",
        "--phone",
        "+14155550100",
        "--timezone",
        "America/Chicago",
        "--json",
        database_url=database_url,
    )
    assert clinic.returncode == 0, clinic.stderr
    slug = json.loads(clinic.stdout)["slug"]
    user = aftercare(
        "users",
        "create",
        "--email",
        "nurse@lakeside.test",
        "--role",
        "staff",
        "--clinic",
        slug,
        "--json",
        database_url=database_url,
    )
    assert user.returncode == 0, user.stderr
    key = aftercare(
        "apikeys", "create", "--user", "nurse@lakeside.test", "--json", database_url=database_url
    )
    assert key.returncode == 0, key.stderr
    return json.loads(key.stdout)


def _call_me(database_url: str, key: str) -> dict[str, object]:
    app = create_app(load_settings(database_url=database_url, scheduler_enabled=False))
    with TestClient(app) as client:
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    return response.json()


def test_cli_bootstrap_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    made = _bootstrap(url)
    assert str(made["key"]).startswith("ac_")
    assert _call_me(url, str(made["key"]))["role"] == "staff"


@pytest.mark.postgres
def test_cli_bootstrap_on_postgresql(pg_url):
    made = _bootstrap(pg_url)
    assert _call_me(pg_url, str(made["key"]))["clinic_id"] == made["clinic_id"]


def test_cli_errors_name_the_option(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    aftercare("db", "upgrade", database_url=url)
    result = aftercare(
        "clinics",
        "create",
        "--name",
        "X",
        "--phone",
        "+1415",
        "--timezone",
        "Mars/Base",
        database_url=url,
    )
    assert result.returncode != 0
    assert "timezone" in result.stderr
    result = aftercare("apikeys", "create", "--user", "ghost@x.test", database_url=url)
    assert result.returncode != 0
    assert "--user" in result.stderr


def test_a_bad_setting_stops_the_cli_with_its_name(tmp_path):
    result = aftercare("db", "upgrade", database_url="mysql://nope")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_on_call_entries_must_reach_someone_and_an_empty_list_is_warned_about(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    aftercare("db", "upgrade", database_url=url)
    base = ("clinics", "create", "--name", "Glow", "--phone", "+14155550100", "--slug", "glow")
    nobody = aftercare(*base, "--oncall", "Dr Ray,,", database_url=url)
    assert nobody.returncode == 1 and "Dr Ray: give a phone, an email or both" in nobody.stderr
    made = aftercare(*base, database_url=url)
    assert made.returncode == 0, made.stderr
    assert "warning: Glow has no on-call list" in made.stderr
    people = ("--oncall", "Dr Ray,(415) 555-0111,", "--oncall", "Dr Ana,,ana@glow.example")
    changed = aftercare("clinics", "update", "glow", *people, "--json", database_url=url)
    assert changed.returncode == 0, changed.stderr
    assert "warning" not in changed.stderr
    assert json.loads(changed.stdout)["oncall"] == [
        {"name": "Dr Ray", "phone": "+14155550111", "email": None},
        {"name": "Dr Ana", "phone": None, "email": "ana@glow.example"},
    ]
