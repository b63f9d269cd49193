"""`aftercare users list|deactivate|activate|reset-password|set-role|unlock|sessions|
end-sessions` and `aftercare apikeys list|revoke`, in-process on a migrated SQLite file,
with what each does to the web session and the API key checked through the app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from service.api.app import create_app
from service.cli import app
from service.config import load_settings
from service.db import migrate
from service.db.models import AuditLog
from tests.web.conftest import csrf_from

pytestmark = pytest.mark.parallel

PASSWORD = "correct horse battery"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.setenv("AFTERCARE_USER_PASSWORD", PASSWORD)
    migrate.upgrade(load_settings(database_url=url))
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), env=env)

    assert run("clinics", "create", "--name", "Lakeside", "--phone", "+14155550100",
               "--slug", "lakeside").exit_code == 0  # fmt: skip
    made = run("users", "create", "--email", "nurse@lakeside.test", "--clinic", "lakeside")
    assert made.exit_code == 0, made.output
    run.url = url  # type: ignore[attr-defined]
    return run


@pytest.fixture
def web(cli):  # type: ignore[no-untyped-def]
    settings = load_settings(database_url=cli.url, scheduler_enabled=False, environment="test",
                             public_base_url="https://aftercare.example.test")  # fmt: skip
    engine = create_engine(cli.url)
    with TestClient(create_app(settings, engine=engine), base_url="https://testserver") as client:
        client.engine = engine  # type: ignore[attr-defined]
        yield client
    engine.dispose()


def sign_in(client: TestClient, password: str = PASSWORD) -> int:
    token = csrf_from(client.get("/app/login").text)
    form = {"email": "nurse@lakeside.test", "password": password, "csrf_token": token}
    return client.post("/app/login", data=form, follow_redirects=False).status_code


def signed_in(client: TestClient) -> bool:
    return client.get("/app/patients", follow_redirects=False).status_code == 200


def out(result) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_users_list_shows_sessions_and_keys(cli, web) -> None:
    assert sign_in(web) == 303
    out(cli("apikeys", "create", "--user", "nurse@lakeside.test", "--json"))
    (row,) = out(cli("users", "list", "--json"))["users"]
    assert (row["email"], row["sessions"], row["keys"], row["active"]) == (
        "nurse@lakeside.test", 1, 1, True)  # fmt: skip
    (live,) = out(cli("users", "sessions", "nurse@lakeside.test", "--json"))["sessions"]
    assert live["user_agent"] == "testclient"


def test_deactivate_ends_the_session_and_stops_the_key(cli, web) -> None:
    key = out(cli("apikeys", "create", "--user", "nurse@lakeside.test", "--json"))["key"]
    assert sign_in(web) == 303 and signed_in(web)
    done = out(cli("users", "deactivate", "nurse@lakeside.test", "--json"))
    assert done["sessions_ended"] == 1
    assert not signed_in(web)
    assert web.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert sign_in(web) == 401
    out(cli("users", "activate", "nurse@lakeside.test", "--json"))
    assert sign_in(web) == 303


def test_reset_password_checks_it_and_signs_out(cli, web) -> None:
    assert sign_in(web) == 303
    short = cli(
        "users", "reset-password", "nurse@lakeside.test", env={"AFTERCARE_USER_PASSWORD": "short"}
    )
    assert short.exit_code == 1 and "password: at least 12 characters" in short.output
    new = "a different long passphrase"
    done = out(cli("users", "reset-password", "nurse@lakeside.test", "--json",
                   env={"AFTERCARE_USER_PASSWORD": new}))  # fmt: skip
    assert done["sessions_ended"] == 1 and not signed_in(web)
    assert sign_in(web) == 401 and sign_in(web, new) == 303


def test_set_role_signs_out(cli, web) -> None:
    assert sign_in(web) == 303
    done = out(cli("users", "set-role", "nurse@lakeside.test", "--role", "operator", "--json"))
    assert (done["role"], done["clinic_id"], done["sessions_ended"]) == ("operator", None, 1)
    refused = cli("users", "set-role", "nurse@lakeside.test", "--role", "staff")
    assert refused.exit_code == 1 and "clinic: staff users belong to a clinic" in refused.output


def test_unlock_ends_the_wait(cli, web) -> None:
    for _ in range(6):
        sign_in(web, "wrong password")
    assert sign_in(web) == 429
    assert out(cli("users", "unlock", "nurse@lakeside.test", "--json"))["throttles_cleared"] >= 1
    assert sign_in(web) == 303


def test_end_sessions_signs_out_everywhere(cli, web) -> None:
    assert sign_in(web) == 303
    assert out(cli("users", "end-sessions", "nurse@lakeside.test", "--json"))["sessions_ended"] == 1
    assert not signed_in(web)


def test_apikeys_list_and_revoke_by_prefix_or_whole_key(cli, web) -> None:
    first = out(cli("apikeys", "create", "--user", "nurse@lakeside.test", "--json"))
    second = out(cli("apikeys", "create", "--user", "nurse@lakeside.test", "--json"))
    keys = out(cli("apikeys", "list", "--user", "nurse@lakeside.test", "--json"))["keys"]
    assert len(keys) == 2 and all(k["revoked_at"] is None for k in keys)
    assert first["key"] not in cli("apikeys", "list").output  # never shown again
    prefix = first["key"].split("_")[1]
    assert out(cli("apikeys", "revoke", prefix, "--json"))["already_revoked"] is False
    assert out(cli("apikeys", "revoke", second["key"], "--json"))["revoked_at"]
    for made in (first, second):
        headers = {"Authorization": f"Bearer {made['key']}"}
        assert web.get("/api/v1/me", headers=headers).status_code == 401
    assert cli("apikeys", "revoke", "nope").exit_code == 1
    with Session(web.engine) as session:  # type: ignore[attr-defined]
        actions = session.exec(select(AuditLog.action).where(AuditLog.actor == "cli")).all()
    assert actions.count("api_key.revoke") == 2
