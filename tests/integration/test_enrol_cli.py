"""`aftercare enrol` and `aftercare import FILE.csv` end to end (subprocess, SQLite file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

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


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    assert aftercare("db", "upgrade", database_url=url).returncode == 0
    made = aftercare(
        "clinics",
        "create",
        "--name",
        "Lakeside",
        "--phone",
        "+14155550100",
        "--slug",
        "lakeside",
        "--json",
        database_url=url,
    )
    assert made.returncode == 0, made.stderr
    return url


def soon(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT10:00:00+00:00")


def test_enrol_one_patient_and_again_is_idempotent(db_url):
    args = (
        "enrol",
        "--clinic",
        "lakeside",
        "--first-name",
        "Ana",
        "--phone",
        "4155550142",
        "--tz",
        "America/Chicago",
        "--lang",
        "es",
        "--plan",
        "botox",
        "--procedure-at",
        soon(2),
        "--json",
    )
    first = aftercare(*args, database_url=db_url)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["created"] is True and data["messages"] > 0
    again = json.loads(aftercare(*args, database_url=db_url).stdout)
    assert again["created"] is False and again["enrollment_id"] == data["enrollment_id"]


def test_enrol_names_the_bad_option(db_url):
    bad = aftercare(
        "enrol",
        "--clinic",
        "lakeside",
        "--first-name",
        "Ana",
        "--phone",
        "12",
        "--plan",
        "botox",
        "--procedure-at",
        soon(2),
        database_url=db_url,
    )
    assert bad.returncode == 1
    assert "--phone" in bad.stderr
    zone = aftercare(
        "enrol",
        "--clinic",
        "lakeside",
        "--first-name",
        "Ana",
        "--phone",
        "4155550142",
        "--tz",
        "Mars/Base",
        "--plan",
        "botox",
        "--procedure-at",
        soon(2),
        database_url=db_url,
    )
    assert "--tz" in zone.stderr


def test_import_reports_bad_rows_keeps_good_ones_and_is_idempotent(db_url, tmp_path):
    path = tmp_path / "patients.csv"
    path.write_text(
        "first_name,phone,plan,procedure_at\n"
        f"Ana,4155550142,botox,{soon(1)}\n"
        f"Bob,12,botox,{soon(1)}\n"
        f"Cy,4155550143,thread_lift,{soon(3)}\n"
        f"Di,4155550144,nonexistent,{soon(3)}\n",
        encoding="utf-8",
    )
    first = aftercare("import", str(path), "--clinic", "lakeside", "--json", database_url=db_url)
    assert first.returncode == 1
    assert "line 3: phone:" in first.stderr
    assert "line 5: plan:" in first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert (summary["enrolled"], summary["bad_rows"]) == (2, 2)
    again = aftercare("import", str(path), "--clinic", "lakeside", "--json", database_url=db_url)
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert (summary["enrolled"], summary["already_enrolled"]) == (0, 2)


def test_import_of_a_clean_file_exits_zero(db_url, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(f"first_name,phone,procedure_at\nAna,4155550142,{soon(1)}\n", encoding="utf-8")
    done = aftercare(
        "import", str(path), "--clinic", "lakeside", "--plan", "botox", database_url=db_url
    )
    assert done.returncode == 0, done.stderr
    assert "enrolled: 1" in done.stdout


def test_enrol_and_import_refuse_a_language_the_plans_do_not_have(db_url, tmp_path):
    bad = aftercare("enrol", "--clinic", "lakeside", "--first-name", "Jean", "--phone",
                    "4155550142", "--lang", "fr", "--plan", "botox", "--procedure-at", soon(2),
                    database_url=db_url)  # fmt: skip
    assert bad.returncode == 1
    assert "--lang" in bad.stderr and "available: en, es" in bad.stderr
    path = tmp_path / "langs.csv"
    path.write_text(
        "first_name,phone,language,procedure_at\n"
        f"Ana,4155550142,es,{soon(1)}\n"
        f"Jean,4155550143,fr,{soon(1)}\n",
        encoding="utf-8",
    )
    done = aftercare("import", str(path), "--clinic", "lakeside", "--plan", "botox", "--json",
                     database_url=db_url)  # fmt: skip
    assert done.returncode == 1
    assert "line 3: language:" in done.stderr and "available: en, es" in done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["enrolled"] == 1
