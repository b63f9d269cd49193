"""Clinic texts on PostgreSQL through the REST API and the real dispatcher: a signed-off
version reaches the patients enrolled after it, patients enrolled before keep their
text, another clinic never gets it, and only the roles allowed may write or sign."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from service.api.app import create_app
from service.db.models import AuditLog, Clinic, Message
from service.dispatch.context import DispatchContext
from service.dispatch.dispatcher import Dispatcher
from service.dispatch.options import DispatchOptions
from service.dispatch.send import send_now
from service.domain import Channel, Role
from tests.dispatch_support import ScriptedAdapter, consenting
from tests.factories import Factory

pytestmark = [pytest.mark.postgres, pytest.mark.parallel]
TEXT = (
    "{{ clinic_name }}: Day 1 from your nurse: a cold pack, 10 minutes at a time. "
    '{% include "_partials/emergency.sms.en.j2" %}'
)
TEXTS = "/api/v1/clinics/{clinic}/content/thread_lift"
DAY1_SMS = "/texts/day1_care/sms/en"


@pytest.fixture
def session(pg_engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    with Session(pg_engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def factory(session: Session) -> Factory:
    return Factory(session)


@pytest.fixture
def client(pg_settings, pg_engine, now) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(pg_settings, engine=pg_engine)
    app.state.clock = lambda: now
    with TestClient(app) as client:
        yield client


def key(factory: Factory, clinic: Clinic | None, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {factory.api_key(factory.user(clinic, role))}"}


def enrol(client: TestClient, factory: Factory, clinic: Clinic, headers, when: datetime) -> int:
    patient = consenting(factory, clinic)
    body = {"patient_id": patient.id, "plan": "thread_lift", "procedure_at": when.isoformat()}
    response = client.post("/api/v1/enrollments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def put_and_sign(client: TestClient, clinic: Clinic, admin, text: str) -> int:
    url = TEXTS.format(clinic=clinic.id)
    saved = client.put(url + DAY1_SMS, json={"text": text}, headers=admin)
    assert saved.status_code == 200, saved.text
    version = saved.json()["version"]
    body = {"sha256": version["sha256"], "name": "Dr Ana Ruiz", "role": "Medical director, MD"}
    signed = client.post(f"{url}/versions/{version['version']}/signoff", json=body, headers=admin)
    assert signed.status_code == 201, signed.text
    return int(version["version"])


def day1_texts(pg_settings, pg_engine, session: Session) -> dict[int, str]:  # type: ignore[no-untyped-def]
    """Send every day-1 care text through the real dispatcher; body by enrolment."""
    rows = session.exec(
        select(Message).where(Message.step_key == "day1_care", Message.channel == "sms")
    ).all()
    at = max(row.next_attempt_at for row in rows) + timedelta(seconds=1)
    ctx = DispatchContext(settings=pg_settings, engine=pg_engine, worker_id="it", clock=lambda: at,
                          options=DispatchOptions(claim_ttl_seconds=30))  # fmt: skip
    sms = ScriptedAdapter()
    ctx.adapters.update({Channel.SMS: sms, Channel.EMAIL: ScriptedAdapter()})
    dispatcher = Dispatcher(ctx)
    try:
        send_now(ctx, dispatcher.claim(500))
    finally:
        dispatcher.stop()
    by_id = {row.id: row.enrollment_id for row in rows}
    return {by_id[m.message_id]: m.body for m in sms.sent if m.message_id in by_id}


def test_a_signed_version_reaches_new_enrolments_and_old_ones_keep_theirs(
    client, factory, session, pg_settings, pg_engine, now
) -> None:
    clinic, other = factory.clinic(name="Glow Clinic"), factory.clinic(name="Other Clinic")
    admin = key(factory, None, Role.ADMIN)
    staff, other_staff = key(factory, clinic, Role.STAFF), key(factory, other, Role.STAFF)
    when = now + timedelta(days=1)
    before = enrol(client, factory, clinic, staff, when)
    assert put_and_sign(client, clinic, admin, TEXT) == 1
    after = enrol(client, factory, clinic, staff, when)
    elsewhere = enrol(client, factory, other, other_staff, when)
    assert put_and_sign(client, clinic, admin, TEXT.replace("nurse", "doctor")) == 2
    latest = enrol(client, factory, clinic, staff, when)  # no restart in between
    texts = day1_texts(pg_settings, pg_engine, session)
    assert texts[before].startswith("Glow Clinic: Day 1: a cold compress")
    assert texts[after].startswith("Glow Clinic: Day 1 from your nurse")
    assert texts[latest].startswith("Glow Clinic: Day 1 from your doctor")
    assert texts[elsewhere].startswith("Other Clinic: Day 1: a cold compress")
    actions = session.exec(
        select(AuditLog.action).where(col(AuditLog.action).startswith("content."))
    ).all()
    assert sorted(actions) == ["content.create"] * 2 + ["content.signoff"] * 2


def test_an_unsigned_draft_is_not_used_and_a_signed_version_is_frozen(
    client, factory, session, now
) -> None:
    clinic = factory.clinic()
    admin = key(factory, None, Role.ADMIN)
    url = TEXTS.format(clinic=clinic.id)
    draft = client.put(url + DAY1_SMS, json={"text": TEXT}, headers=admin).json()
    assert (draft["change"], draft["version"]["frozen"]) == ("created", None)
    assert not draft["version"]["in_use_for_new_enrolments"]
    put_and_sign(client, clinic, admin, TEXT.replace("nurse", "team"))  # the draft, v1
    listed = client.get(url, headers=admin).json()["versions"]
    assert [(v["version"], v["frozen"]) for v in listed] == [(1, "it has been signed off")]
    again = client.put(url + DAY1_SMS, json={"text": TEXT}, headers=admin).json()
    assert (again["change"], again["version"]["version"]) == ("created", 2)
    restored = client.put(url + DAY1_SMS, json={"text": None}, headers=admin).json()
    assert (restored["change"], restored["version"]["texts"]) == ("updated", {})


def test_a_failing_text_is_422_naming_step_channel_language_and_problem(client, factory):
    clinic = factory.clinic()
    url = TEXTS.format(clinic=clinic.id) + DAY1_SMS
    text = "{{ clinic_name }}: Day 1: rest. Call us on {{ clinic_phone }}."
    refused = client.put(url, json={"text": text}, headers=key(factory, None, Role.ADMIN))
    assert refused.status_code == 422
    [error] = refused.json()["detail"]
    assert (error["field"], error["step"], error["channel"], error["language"]) == (
        "text", "day1_care", "sms", "en")  # fmt: skip
    assert "emergency line missing" in error["msg"]


def test_a_stale_signoff_is_409(client, factory) -> None:
    clinic = factory.clinic()
    admin = key(factory, None, Role.ADMIN)
    url = TEXTS.format(clinic=clinic.id)
    client.put(url + DAY1_SMS, json={"text": TEXT}, headers=admin)
    body = {"sha256": "0" * 64, "name": "Dr Ana Ruiz", "role": "MD"}
    stale = client.post(f"{url}/versions/1/signoff", json=body, headers=admin)
    assert stale.status_code == 409 and "changed after you opened it" in stale.json()["detail"]


def test_a_clinic_admin_writes_and_signs_its_own_clinics_texts_only(
    client, factory, session, pg_settings, pg_engine, now
) -> None:
    mine, theirs = factory.clinic(name="Mine"), factory.clinic(name="Theirs")
    admin_mine = key(factory, mine, Role.CLINIC_ADMIN)
    assert put_and_sign(client, mine, admin_mine, TEXT) == 1
    url = TEXTS.format(clinic=theirs.id)
    assert client.get(url, headers=admin_mine).status_code == 404  # like a missing clinic
    assert client.put(url + DAY1_SMS, json={"text": TEXT}, headers=admin_mine).status_code == 404
    body = {"sha256": "0" * 64, "name": "Dr X", "role": "MD"}
    assert (
        client.post(f"{url}/versions/1/signoff", json=body, headers=admin_mine).status_code == 404
    )
    ours = enrol(client, factory, mine, key(factory, mine, Role.STAFF), now + timedelta(days=1))
    other = enrol(
        client, factory, theirs, key(factory, theirs, Role.STAFF), now + timedelta(days=1)
    )
    texts = day1_texts(pg_settings, pg_engine, session)
    assert texts[ours].startswith("Mine: Day 1 from your nurse")
    assert texts[other].startswith("Theirs: Day 1: a cold compress")
    entry = session.exec(select(AuditLog).where(AuditLog.action == "content.signoff")).one()
    assert entry.clinic_id == mine.id and (entry.actor or "").startswith("api_key:")


def test_only_admins_write_or_sign_and_nobody_reaches_a_missing_clinic(client, factory) -> None:
    clinic = factory.clinic()
    url = TEXTS.format(clinic=clinic.id)
    for role in (Role.STAFF, Role.OPERATOR):
        headers = key(factory, clinic if role is Role.STAFF else None, role)
        assert client.get(url, headers=headers).status_code == 403
        assert client.put(url + DAY1_SMS, json={"text": TEXT}, headers=headers).status_code == 403
    assert client.get(url).status_code == 401
    admin = key(factory, None, Role.ADMIN)
    assert client.get(TEXTS.format(clinic=999_999), headers=admin).status_code == 404
    assert client.get(url.replace("thread_lift", "nope"), headers=admin).status_code == 404
    unknown = client.put(url + "/texts/day99/sms/en", json={"text": TEXT}, headers=admin)
    assert unknown.status_code == 404
