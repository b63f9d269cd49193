"""`aftercare plans export KEY --format html` and `aftercare plans signoff` end to end
(subprocess, SQLite file), and what enrolment does with an unsigned plan."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from tests.integration.test_enrol_cli import aftercare, db_url  # noqa: F401  (fixture)


def _enrol(url: str, **env: str) -> object:
    when = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT10:00")
    args = ["enrol", "--clinic", "lakeside", "--first-name", "Ana", "--phone", "+14155550123"]
    args += ["--plan", "botox", "--procedure-at", when, "--json"]
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return aftercare(*args, database_url=url)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_export_signoff_and_enrolment_into_an_unsigned_plan(db_url, tmp_path):  # noqa: F811
    """One clinic database through the whole story (each CLI call is a process)."""
    out = tmp_path / "botox.html"
    done = aftercare(
        "plans", "export", "botox", "--format", "html", "-o", str(out), database_url=db_url
    )
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert "Botox aftercare: clinical review" in html and "version <strong>2</strong>" in html
    assert "Nobody has signed off this version yet" in html
    assert 'class="route-emergency">emergency' in html  # the breathing sign's route
    assert "Triage today" in html
    assert "Llame ya al 911 si nota dificultad para respirar" in html  # Spanish SMS too
    assert html.count("<tr>") > 30

    bad = aftercare("plans", "export", "botox", "--format", "pdf", database_url=db_url)
    assert bad.returncode == 1 and "--format: 'pdf' is not supported" in bad.stderr

    warned = _enrol(db_url)
    assert warned.returncode == 0, warned.stderr
    assert "warning: plan 'botox' v2 has not been signed off by a clinician" in warned.stderr
    refused = _enrol(db_url, REQUIRE_PLAN_SIGNOFF="true")
    assert refused.returncode == 1
    assert "--plan: plan 'botox' v2 has not been signed off" in refused.stderr

    never = aftercare(
        "plans", "signoff", "botox", "--version", "7", "--name", "X", "--role", "MD",
        database_url=db_url,
    )  # fmt: skip
    assert never.returncode == 1 and "has no version 7" in never.stderr
    signed = aftercare(
        "plans", "signoff", "botox", "--version", "2", "--name", "Dr Rosa Vidal",
        "--role", "Medical director, MD", "--date", "2026-01-10", database_url=db_url,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert "signed off: botox v2 by Dr Rosa Vidal" in signed.stdout
    engine = create_engine(db_url)
    with engine.connect() as conn:
        (detail,) = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'plan.signoff'")
        ).one()
    engine.dispose()
    assert json.loads(detail)["signer_name"] == "Dr Rosa Vidal"

    aftercare("plans", "export", "botox", "-o", str(out), database_url=db_url)
    html = out.read_text()
    assert "Dr Rosa Vidal" in html and "2026-01-10" in html
    assert "Nobody has signed off" not in html
    allowed = _enrol(db_url, REQUIRE_PLAN_SIGNOFF="true")
    assert allowed.returncode == 0, allowed.stderr
    assert "warning" not in allowed.stderr
