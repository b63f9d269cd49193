"""`aftercare plans export KEY --format html` and `aftercare plans signoff`, and what
`aftercare enrol` does with an unsigned plan: the real CLI in-process on a migrated
SQLite file (each subprocess would cost a cold start)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from service.cli import app
from service.config import load_settings
from service.db import migrate

pytestmark = pytest.mark.parallel


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    migrate.upgrade(load_settings(database_url=url))
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args))

    made = run("clinics", "create", "--name", "Lakeside", "--phone", "+14155550100",
               "--slug", "lakeside")  # fmt: skip
    assert made.exit_code == 0, made.output
    run.url = url  # type: ignore[attr-defined]
    return run


def _enrol(cli):  # type: ignore[no-untyped-def]
    when = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT10:00")
    return cli("enrol", "--clinic", "lakeside", "--first-name", "Ana", "--phone",
               "+14155550123", "--plan", "botox", "--procedure-at", when, "--json")  # fmt: skip


def test_the_review_document_shows_every_message_sign_route_and_triage(cli, tmp_path) -> None:
    out = tmp_path / "botox.html"
    done = cli("plans", "export", "botox", "--format", "html", "-o", str(out))
    assert done.exit_code == 0, done.output
    html = out.read_text()
    assert "Botox aftercare: clinical review" in html and "version <strong>3</strong>" in html
    assert "Nobody has signed off this version yet" in html
    assert 'class="route-emergency">emergency' in html  # the breathing sign's route
    assert "Triage today" in html
    assert "Llame ya al 911 si nota dificultad para respirar" in html  # Spanish SMS too
    assert html.count("<tr>") > 30
    bad = cli("plans", "export", "botox", "--format", "pdf")
    assert bad.exit_code == 1 and "--format: 'pdf' is not supported" in bad.output


def test_a_signoff_is_audited_shown_and_lifts_the_warning_and_the_refusal(
    cli, tmp_path, monkeypatch
) -> None:
    warned = _enrol(cli)
    assert warned.exit_code == 0, warned.output
    assert "warning: plan 'botox' v3 has not been signed off by a clinician" in warned.output
    monkeypatch.setenv("REQUIRE_PLAN_SIGNOFF", "true")
    refused = _enrol(cli)
    assert refused.exit_code == 1
    assert "--plan: plan 'botox' v3 has not been signed off" in refused.output

    never = cli("plans", "signoff", "botox", "--version", "7", "--name", "X", "--role", "MD")
    assert never.exit_code == 1 and "has no version 7" in never.output
    signed = cli("plans", "signoff", "botox", "--version", "3", "--name", "Dr Rosa Vidal",
                 "--role", "Medical director, MD", "--date", "2026-01-10")  # fmt: skip
    assert signed.exit_code == 0, signed.output
    assert "signed off: botox v3 by Dr Rosa Vidal" in signed.output
    engine = create_engine(cli.url)
    with engine.connect() as conn:
        (detail,) = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'plan.signoff'")
        ).one()
    engine.dispose()
    assert json.loads(detail)["signer_name"] == "Dr Rosa Vidal"

    out = tmp_path / "botox.html"
    cli("plans", "export", "botox", "-o", str(out))
    html = out.read_text()
    assert "Dr Rosa Vidal" in html and "2026-01-10" in html
    assert "Nobody has signed off" not in html
    allowed = _enrol(cli)
    assert allowed.exit_code == 0, allowed.output
    assert "warning" not in allowed.output
