"""The operator's toolbox on the embedded default: clinics list/show/update, db backup,
messages retry, the default database path and the unmigrated-database message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from service.cli import app
from service.config import DEFAULT_DATABASE_PATH, REPO_ROOT, load_settings
from service.db import migrate
from service.db.engine import make_engine
from service.db.models import AuditLog, Message, MessageEvent
from service.domain import MessageStatus
from tests.dispatch_support import ad_hoc
from tests.factories import Factory

pytestmark = pytest.mark.parallel


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path}/aftercare.db"
    monkeypatch.setenv("DATABASE_URL", url)
    migrate.upgrade(load_settings(database_url=url))
    return url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def run_json(*args: str) -> dict:
    code, output = run(*args, "--json")
    assert code == 0, output
    return dict(json.loads(output))


def make_clinic() -> dict:
    return run_json(
        "clinics", "create", "--name", "Lakeside Aesthetics", "--phone", "+14155550100",
        "--oncall", "Dr Ray,+14155550111,ray@lakeside.test",
    )  # fmt: skip


def test_a_command_on_an_unmigrated_database_says_to_run_db_upgrade(tmp_path, monkeypatch):
    missing = tmp_path / "nothing-here.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    code, output = run("clinics", "list")
    assert code == 1
    assert output.strip() == (
        f"error: the database {missing} is not migrated: run `aftercare db upgrade`"
    )
    assert not missing.exists()  # reported, not created empty


def test_a_database_behind_the_code_gets_the_same_one_line_message(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/old.db"
    migrate.upgrade(load_settings(database_url=url), "base")  # an empty schema history
    monkeypatch.setenv("DATABASE_URL", url)
    code, output = run("clinics", "list")
    assert code == 1 and "run `aftercare db upgrade`" in output and "Traceback" not in output


def test_the_default_database_is_the_repositorys_whatever_the_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert DEFAULT_DATABASE_PATH == REPO_ROOT / "aftercare.db"
    assert settings.database_shown == str(DEFAULT_DATABASE_PATH)


def test_clinics_list_and_show_print_one_json_object(database):
    made = make_clinic()
    listing = run_json("clinics", "list")
    assert [c["slug"] for c in listing["clinics"]] == [made["slug"]]
    shown = run_json("clinics", "show", made["slug"])
    assert shown["quiet_hours"] == "20:00-08:00" and shown["night_window"] == "21:00-08:00"
    assert shown["oncall"] == [{"name": "Dr Ray", "phone": "+14155550111",
                                "email": "ray@lakeside.test"}]  # fmt: skip
    assert shown["created_at"].endswith("Z")  # the CLI's one date format


def test_clinics_update_changes_only_what_is_given_and_audits_it(database):
    slug = make_clinic()["slug"]
    updated = run_json(
        "clinics", "update", slug, "--quiet-start", "21:30", "--ack-minutes", "10",
        "--sender-rate", "5", "--timezone", "Europe/Madrid", "--sms-from", "(415) 555-0166",
        "--oncall", "Nurse Kim,+14155550122,", "--oncall", "Dr Ray,,ray@lakeside.test",
    )  # fmt: skip
    assert updated["quiet_hours"] == "21:30-08:00" and updated["ack_minutes"] == 10
    assert updated["timezone"] == "Europe/Madrid" and updated["sms_from"] == "+14155550166"
    assert [p["name"] for p in updated["oncall"]] == ["Nurse Kim", "Dr Ray"]
    assert set(updated["changed"]) == {"quiet_start", "alert_ack_minutes",
        "sender_rate_per_second", "sender_burst", "timezone", "sms_from", "oncall"}  # fmt: skip
    assert updated["sender"] == "+14155550166" and updated["sender_rate"] == 5
    engine = make_engine(load_settings())
    with Session(engine) as session:
        audit = session.exec(select(AuditLog).where(AuditLog.action == "clinic.update")).one()
    engine.dispose()
    assert audit.actor == "cli" and "oncall" in audit.detail["changed"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--timezone", "Mars/Olympus"], "--timezone"),
        (["--quiet-end", "25:00"], "--quiet-end"),
        (["--sms-from", "12"], "--sms-from"),
        (["--sender-rate", "0"], "--sender-rate"),
        (["--oncall", "Nobody,,"], "--oncall"),
    ],
)
def test_a_bad_clinic_setting_is_named_and_nothing_changes(database, args, named):
    slug = make_clinic()["slug"]
    code, output = run("clinics", "update", slug, "--name", "Renamed", *args)
    assert code == 1 and output.startswith(f"error: {named}: ")
    assert run_json("clinics", "show", slug)["name"] == "Lakeside Aesthetics"


def test_an_unknown_clinic_is_named(database):
    code, output = run("clinics", "show", "nowhere")
    assert code == 1 and "no clinic 'nowhere'" in output


def test_db_backup_copies_the_live_database(database, tmp_path):
    make_clinic()
    target = tmp_path / "copy.db"
    backup = run_json("db", "backup", str(target))
    assert backup["backup"] == str(target) and backup["bytes"] > 0
    copy = make_engine(load_settings(database_url=f"sqlite:///{target}"))
    with Session(copy) as session:
        assert session.exec(select(AuditLog.action)).all() == ["clinic.create"]
    copy.dispose()
    code, output = run("db", "backup", str(target))
    assert code == 1 and "already exists" in output


def test_db_backup_on_postgresql_gives_the_pg_dump_command(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://care:secret@db.example:5432/aftercare")
    code, output = run("db", "backup", "x.dump")
    assert code == 1
    assert "pg_dump --format=custom --file=aftercare.dump --host=db.example --port=5432 " \
           "--username=care aftercare" in output and "secret" not in output  # fmt: skip


def test_messages_retry_puts_a_message_in_review_back_in_the_queue(database):
    engine = make_engine(load_settings())
    with Session(engine, expire_on_commit=False) as session:
        clinic = Factory(session).clinic()
        message = ad_hoc(session, clinic=clinic, patient=None, to_address="+14155550111",
                         due_at=datetime(2026, 1, 1, tzinfo=UTC), valid_until=None)  # fmt: skip
        message.status = MessageStatus.REVIEW
        session.add(message)
        session.commit()
    retried = run_json("messages", "retry", str(message.id))
    assert retried["status"] == "scheduled"
    code, output = run("messages", "retry", str(message.id))
    assert code == 1 and "not in review" in output
    with Session(engine) as session:
        event = session.exec(select(MessageEvent).where(MessageEvent.message_id == message.id)
                             .order_by(MessageEvent.id.desc())).first()  # type: ignore[union-attr]  # fmt: skip
        row = session.get(Message, message.id)
    engine.dispose()
    assert event.from_status == "review" and event.to_status == "scheduled"
    assert row.next_attempt_at <= datetime.now(UTC)


def test_json_is_shown_as_a_flag_in_help():
    code, output = run("clinics", "show", "--help")
    assert code == 0
    line = next(line for line in output.splitlines() if "--json" in line)
    assert "<bool>" not in line and "Print one JSON object" in line


def test_the_help_loads_no_database_web_or_settings_library():
    import subprocess
    import sys

    heavy = ["sqlalchemy", "sqlmodel", "pydantic", "fastapi", "alembic", "twilio", "rich"]
    code = (
        "import sys; from service.cli import app; "
        "from typer.main import get_command; get_command(app); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(REPO_ROOT), check=True)  # fmt: skip
    assert result.stdout.strip() == "[]"


def test_the_cheap_revision_check_agrees_with_alembic(database):
    from alembic.script import ScriptDirectory

    from service.db.migrate import alembic_config
    from service.db.revision import revisions

    script = ScriptDirectory.from_config(alembic_config(load_settings()))
    known, heads = revisions()
    assert heads == set(script.get_heads())
    assert known == {revision.revision for revision in script.walk_revisions()}


def test_senders_lists_the_default_and_sets_a_rate(database, monkeypatch):
    monkeypatch.setenv("TWILIO_FROM", "+15005550006")
    slug = make_clinic()["slug"]
    assert run_json("clinics", "show", slug)["sender"] == "+15005550006"
    listed = run_json("senders", "list")["senders"]
    assert {(s["channel"], s["address"], s["rate_per_second"]) for s in listed} == {
        ("sms", "+15005550006", None), ("email", "aftercare@localhost", None)}  # fmt: skip
    updated = run_json("senders", "update", "+15005550006", "--rate", "3.5", "--burst", "2")
    assert (updated["rate_per_second"], updated["burst"]) == (3.5, 2)
    assert updated["changed"] == ["rate_per_second", "burst"]
    assert run_json("clinics", "show", slug)["sender_rate"] == 3.5
    code, output = run("senders", "update", "+15005550006", "--rate", "-1")
    assert code == 1 and output.startswith("error: --rate: ")
    code, output = run("clinics", "update", slug, "--sender-rate", "2")
    assert code == 1 and "default number" in output


def _ready_database_imports_alembic(url: str) -> bool:
    import subprocess
    import sys

    code = (
        "import sys; from service.cli.common import ready_database; "
        "from service.config import load_settings; "
        f"ready_database(load_settings(database_url={url!r})); print('alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(REPO_ROOT), check=True)  # fmt: skip
    return result.stdout.strip() == "True"


def test_serve_and_worker_import_alembic_only_to_migrate_the_embedded_database(tmp_path):
    url = f"sqlite:///{tmp_path}/fresh.db"
    assert _ready_database_imports_alembic(url)  # a new file: migrated
    assert not _ready_database_imports_alembic(url)  # at head: only checked
    from service.db.revision import require_current

    require_current(load_settings(database_url=url))
