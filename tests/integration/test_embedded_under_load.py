"""The embedded default (one `aftercare serve` process on SQLite) under an operator's
export: a 100,000-row CSV download runs while the dispatcher sends and an urgent reply
arrives. The page to the on-call nurse still leaves within a second, and the export is
complete (every row, once)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, text
from sqlmodel import Session, col, select

from service import accounts
from service.channels.twilio_webhooks import sign
from service.config import REPO_ROOT, Settings, load_settings
from service.db import migrate
from service.db.engine import make_engine
from service.db.models import Alert, Message
from service.domain import Channel, MessageKind, MessageStatus, Priority, Role
from tests.dispatch_support import consenting
from tests.factories import Factory
from tests.integration.conftest import free_port

pytestmark = pytest.mark.slow

EXPORT_ROWS = 100_000
# Replies due 20 a second through the export (a busy clinic's evening): the dispatcher
# sends throughout. (A backlog it cannot keep up with would delay a page for another
# reason: claims take the oldest due rows first, whatever their priority.)
TRICKLE, TRICKLE_GAP = 400, 0.05
TOKEN = "load-test-auth-token"
CLINIC_LINE = "+15005550006"
NURSE = "+14155550199"
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Seeded:
    export_clinic: int
    patient_phone: str
    operator_email: str
    trickle_clinic: int
    trickle_patient: int


def seed(settings: Settings, *, start: datetime) -> Seeded:
    engine = make_engine(settings)
    with Session(engine, expire_on_commit=False) as session:
        make = Factory(session)
        # Pages and the trickle (safety-net replies) are urgent: quiet hours never apply.
        clinic = make.clinic(name="Lakeside", sms_from=CLINIC_LINE, timezone="UTC")
        accounts.add_oncall(session, clinic=clinic, name="Nurse", phone=NURSE, email=None)
        history = make.clinic(name="Archive")
        patient = consenting(make, clinic, phone="+14155550123")
        other = consenting(make, clinic, phone="+14155550124")
        operator = make.user(None, Role.OPERATOR, email="ops@example.test", password=PASSWORD)
        session.commit()
        base = f"{start - timedelta(days=1):%Y-%m-%d %H:%M:%S}"
        session.execute(_HISTORY, {"clinic": history.id, "rows": EXPORT_ROWS, "base": base})
        session.commit()
    engine.dispose()
    return Seeded(history.id, patient.phone, operator.email, clinic.id, other.id)  # type: ignore[arg-type]


def queue_trickle(settings: Settings, seeded: Seeded) -> None:
    """Replies due from now on, while the export runs (queued once the server is up)."""
    engine = make_engine(settings)
    with Session(engine) as session:
        rows = _trickle(seeded.trickle_clinic, seeded.trickle_patient, datetime.now(UTC))
        session.execute(insert(Message.__table__), list(rows))  # type: ignore[attr-defined]
        session.commit()
    engine.dispose()


# Delivered messages, one a second going back from a day ago, made inside SQLite (a
# tenth of the time of binding 100,000 rows from Python). Times in SQLAlchemy's SQLite
# storage format, the one UTCDateTime reads back.
_HISTORY = text("""
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :rows)
INSERT INTO messages (dedupe_key, clinic_id, kind, channel, priority, language, to_address,
    due_at, next_attempt_at, sent_at, delivered_at, status, attempts, occurrence, body,
    provider, created_at, updated_at)
SELECT 'history-' || i, :clinic, 'plan', 'sms', 'routine', 'en', '+14155550999', at, at,
    at, at, 'delivered', 1, 0, 'Day 1: rest. In an emergency call 911.', 'console', at, at
FROM (SELECT i, strftime('%Y-%m-%d %H:%M:%S', :base, '-' || i || ' seconds') || '.000000'
      AS at FROM n)
""")


def _trickle(clinic_id: int, patient_id: int, start: datetime) -> Iterator[dict[str, object]]:
    for n in range(TRICKLE):
        at = start + timedelta(seconds=0.5 + n * TRICKLE_GAP)
        yield _row(clinic_id, patient_id, f"trickle-{n}", at, status=MessageStatus.SCHEDULED)


def _row(clinic_id, patient_id, key, at, *, status) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "dedupe_key": key, "clinic_id": clinic_id, "patient_id": patient_id,
        "kind": MessageKind.AUTO_REPLY, "channel": Channel.SMS, "priority": Priority.URGENT,
        "language": "en", "to_address": "+14155550999" if patient_id is None else None,
        "due_at": at, "next_attempt_at": at, "status": status, "attempts": 0,
        "body": "Your clinic got your message. In an emergency call 911.", "occurrence": 0,
        "created_at": at, "updated_at": at,
    }  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Settings, Seeded]]:
    port = free_port()
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/aftercare.db",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SECRET_KEY": "load-test-secret-key-0123456789abcdef",
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
    }
    settings = load_settings(**{k.lower(): v for k, v in env.items()})
    migrate.upgrade(settings)
    seeded = seed(settings, start=datetime.now(UTC))
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port)],
        cwd=REPO_ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_healthy(settings.public_base_url, process)
        yield settings.public_base_url, settings, seeded
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the server did not become healthy")


def signed_in(url: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    form = client.get("/app/login").text
    csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/app/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf}
    )
    assert answer.status_code in (200, 303), answer.text
    return client


def post_urgent_reply(url: str, sender: str) -> httpx.Response:
    params = {
        "MessageSid": f"SM{uuid.uuid4().hex}", "AccountSid": "AC" + "0" * 32, "From": sender,
        "To": CLINIC_LINE, "Body": "I can't breathe", "NumMedia": "0",
    }  # fmt: skip
    target = f"{url}/webhooks/twilio/sms"
    signature = sign(auth_token=TOKEN, url=target, params=params)
    return httpx.post(target, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)


def test_an_urgent_page_leaves_within_a_second_while_a_100k_row_export_streams(server):
    url, settings, seeded = server
    client = signed_in(url, seeded.operator_email)
    queue_trickle(settings, seeded)
    lines: list[str] = []
    replied: list[datetime] = []
    export_over = threading.Event()

    def reply_when_the_export_is_underway() -> None:
        while len(lines) < 10_000:
            if export_over.wait(0.01):
                return
        replied.append(datetime.now(UTC))
        assert post_urgent_reply(url, seeded.patient_phone).status_code == 200

    replier = threading.Thread(target=reply_when_the_export_is_underway, daemon=True)
    replier.start()
    export_began = datetime.now(UTC)
    try:
        with client.stream("GET", f"/app/ops/messages.csv?clinic_id={seeded.export_clinic}") as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                lines.append(line)
    finally:
        export_over.set()
        replier.join(timeout=30)
        client.close()
    export_ended = datetime.now(UTC)

    rows = list(csv.reader(io.StringIO("\n".join(lines[1:]))))
    assert len(rows) == EXPORT_ROWS and len({row[0] for row in rows}) == EXPORT_ROWS
    assert all(row[0].isdigit() for row in rows)  # no "stopped after" note, no error text

    page_sent_at, trickle_sent = outcomes(settings)
    assert replied and page_sent_at is not None, "no page was sent"
    assert replied[0] < export_ended and page_sent_at - replied[0] < timedelta(seconds=1), (
        f"page sent {page_sent_at - replied[0]} after the reply"
    )
    # The dispatcher kept sending while the export ran, not only after it.
    assert any(export_began < at < export_ended for at in trickle_sent)


def outcomes(settings: Settings) -> tuple[datetime | None, list[datetime]]:
    """When the page to the nurse was sent, and when each trickle reply was."""
    engine = make_engine(settings)
    try:
        with Session(engine) as session:
            assert len(session.exec(select(Alert)).all()) == 1
            page = session.exec(
                select(Message).where(Message.kind == MessageKind.PAGE, Message.to_address == NURSE)
            ).one()
            trickle = session.exec(
                select(Message.sent_at).where(col(Message.dedupe_key).startswith("trickle-"))
            ).all()
            return page.sent_at, [at for at in trickle if at is not None]
    finally:
        engine.dispose()
