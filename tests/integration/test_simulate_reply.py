"""Trying the service without a phone: `aftercare simulate reply` posts a signed text to a
running `aftercare serve`, which triages it like a real one; without TWILIO_AUTH_TOKEN
the webhook says the token is not set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from service.api.app import create_app
from service.cli import app as cli
from service.config import REPO_ROOT, load_settings
from service.db import migrate
from service.db.engine import make_engine
from service.db.models import Alert, InboundMessage
from tests.dispatch_support import consenting
from tests.factories import Factory
from tests.integration.conftest import free_port

TOKEN = "simulate-test-token"


@pytest.fixture
def live(tmp_path: Path, monkeypatch) -> Iterator[tuple[str, Path]]:
    port = free_port()
    database = tmp_path / "aftercare.db"
    env = {"DATABASE_URL": f"sqlite:///{database}", "TWILIO_AUTH_TOKEN": TOKEN,
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "LOG_LEVEL": "WARNING",
           "SCHEDULER_ENABLED": "false"}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    migrate.upgrade(load_settings())
    engine = make_engine(load_settings())
    with Session(engine) as session:
        consenting(Factory(session), Factory(session).clinic(), phone="+14155550123")
    engine.dispose()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port)],
                                  cwd=REPO_ROOT, env={**os.environ, **env}, stdout=out,
                                  stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/healthz", server)
        yield f"http://127.0.0.1:{port}", log
    finally:
        server.terminate()
        server.wait(timeout=20)


def _wait(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "serve exited"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(url)


def test_a_simulated_reply_is_triaged_like_a_real_text(live):
    url, log = live
    result = CliRunner().invoke(
        cli, ["simulate", "reply", "--from", "(415) 555-0123", "I can't breathe", "--url", url,
              "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["from"] == "+14155550123"
    engine = make_engine(load_settings())
    with Session(engine) as session:
        inbound = session.exec(select(InboundMessage)).one()
        alert = session.exec(select(Alert)).one()
    engine.dispose()
    assert inbound.intent == "urgent" and alert.patient_id == inbound.patient_id
    assert f"aftercare: database {load_settings().database_shown}" in log.read_text()


def test_simulate_without_a_token_says_so(monkeypatch):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["simulate", "reply", "--from", "+14155550123", "hi"])
    assert result.exit_code == 1 and "TWILIO_AUTH_TOKEN is not set" in result.output


def test_simulate_names_a_service_it_cannot_reach(monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["simulate", "reply", "--from", "+14155550123", "hi",
                                      "--url", url])  # fmt: skip
    assert result.exit_code == 1 and "cannot reach" in result.output


def test_without_a_token_the_sms_webhook_answers_403_saying_so(settings, engine):
    assert settings.twilio_auth_token is None
    with TestClient(create_app(settings, engine=engine)) as client:
        response = client.post("/webhooks/twilio/sms", data={"From": "+14155550123"},
                               headers={"X-Twilio-Signature": "x"})  # fmt: skip
    assert response.status_code == 403
    assert response.json()["detail"].startswith("TWILIO_AUTH_TOKEN is not set")


def test_in_production_the_answer_to_a_missing_token_says_nothing_more(settings, engine):
    production = settings.model_copy(update={"environment": "production"})
    with TestClient(create_app(production, engine=engine)) as client:
        response = client.post("/webhooks/twilio/sms", data={"From": "+14155550123"})
    assert response.status_code == 403 and "TWILIO_AUTH_TOKEN" not in response.text
