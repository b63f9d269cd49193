"""REST: `/api/v1/clinics/{id}/settings` - who may read and change a clinic's settings,
what a bad value answers, and the audit trail of each change (old and new values)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from service.db.models import AuditLog, Clinic, Message
from service.domain import MessageStatus, Role
from tests.factories import Factory


@pytest.fixture
def client(api_client: TestClient) -> TestClient:
    return api_client


@pytest.fixture
def glow(factory: Factory) -> Clinic:
    return factory.clinic(name="Glow", sms_from="+14155550190")


@pytest.fixture
def other(factory: Factory) -> Clinic:
    return factory.clinic(name="Other", sms_from="+14155550191")


def key(factory: Factory, clinic: Clinic | None, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {factory.api_key(factory.user(clinic, role))}"}


def url(clinic: Clinic, tail: str = "") -> str:
    return f"/api/v1/clinics/{clinic.id}/settings{tail}"


def fields(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    return [error["field"] for error in response.json()["detail"]]


# (role, whose clinic: True = Glow's own, False = the other clinic's, None = none), answer
ROLE_MATRIX = [
    (Role.CLINIC_ADMIN, True, 200),
    (Role.CLINIC_ADMIN, False, 404),  # another clinic's admin: as if it did not exist
    (Role.STAFF, True, 403),
    (Role.OPERATOR, None, 403),
    (Role.ADMIN, None, 200),
]


def test_only_the_clinics_admins_and_admins_read_and_change_its_settings(
    client, factory, glow, other
) -> None:
    admin = key(factory, None, Role.ADMIN)
    for number, (role, own, status) in enumerate(ROLE_MATRIX):
        home = None if own is None else (glow if own else other)
        headers = key(factory, home, role)
        name = f"Glow {number}"
        assert client.get(url(glow), headers=headers).status_code == status, role
        changed = client.patch(url(glow), json={"name": name}, headers=headers)
        assert changed.status_code == status, (role, changed.text)
        assert client.get(url(glow, "/history"), headers=headers).status_code == status
        assert (client.get(url(glow), headers=admin).json()["name"] == name) == (status == 200)


def test_without_a_key_it_is_401(client, glow) -> None:
    assert client.get(url(glow)).status_code == 401
    assert client.patch(url(glow), json={"name": "X"}).status_code == 401


def test_a_change_is_audited_with_who_and_each_old_and_new_value(
    client, factory, glow, session: Session
) -> None:
    headers = key(factory, glow, Role.CLINIC_ADMIN)
    ray = {"name": "Dr Ray", "phone": "(415) 555-0111", "page_by": "sms"}
    body = {"name": "Glow Skin", "quiet_start": "21:00", "phone_24h": True,
            "alert_ack_minutes": 10, "sender_rate_per_second": 3.0, "oncall": [ray]}  # fmt: skip
    response = client.patch(url(glow), json=body, headers=headers)
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["quiet_start"] == "21:00" and shown["quiet_end"] == "08:00"
    assert shown["oncall"] == [{"name": "Dr Ray", "phone": "+14155550111", "email": None,
                                "page_by": "sms"}]  # fmt: skip
    assert sorted(shown["changed"]) == sorted([*body, "sender_burst"])  # burst follows the rate
    assert (shown["sender_rate_per_second"], shown["sender_burst"]) == (3.0, 3)
    audit = session.exec(select(AuditLog).where(AuditLog.action == "clinic.update")).one()
    assert audit.clinic_id == glow.id and audit.actor.startswith("api_key:")
    assert audit.actor_type == "api_key"
    changes = audit.detail["changes"]
    assert changes["name"] == {"from": "Glow", "to": "Glow Skin"}
    assert changes["quiet_start"] == {"from": "20:00", "to": "21:00"}
    assert changes["phone_24h"] == {"from": False, "to": True}
    assert changes["alert_ack_minutes"] == {"from": 15, "to": 10}
    assert changes["oncall"]["from"] == [] and changes["oncall"]["to"][0]["page_by"] == "sms"
    history = client.get(url(glow, "/history"), headers=headers).json()
    assert history[0]["changes"]["name"] == {"from": "Glow", "to": "Glow Skin"}
    assert history[0]["actor"] == audit.actor


def test_a_change_to_nothing_new_writes_no_audit_entry(
    client, factory, glow, session: Session
) -> None:
    headers = key(factory, glow, Role.CLINIC_ADMIN)
    response = client.patch(url(glow), json={"name": "Glow", "quiet_end": "08:00"}, headers=headers)
    assert response.status_code == 200 and response.json()["changed"] == []
    assert session.exec(select(AuditLog).where(AuditLog.action == "clinic.update")).all() == []


BAD_VALUES = [
    ({"quiet_start": "25:00"}, "quiet_start"),
    ({"quiet_start": "9pm"}, "quiet_start"),
    ({"quiet_start": "08:00"}, "quiet_start"),  # 08:00-08:00: no quiet hours at all
    ({"quiet_start": "08:00", "quiet_end": "20:00"}, "quiet_start"),  # swapped
    ({"night_end": "02:00"}, "night_end"),  # 21:00-02:00 leaves 3 am open
    ({"quiet_start": None}, "quiet_start"),
    ({"sender_rate_per_second": 0}, "sender_rate_per_second"),
    ({"sender_rate_per_second": 20_000}, "sender_rate_per_second"),
    ({"sender_burst": 0}, "sender_burst"),
    ({"alert_ack_minutes": 0}, "alert_ack_minutes"),
    ({"reply_response_minutes": 5000}, "reply_response_minutes"),
    ({"reply_day_start": "21:00"}, "reply_day_start"),  # after the day's 20:00 end
    ({"contact_phone": "12"}, "contact_phone"),
    ({"sms_from": "not a number"}, "sms_from"),
    ({"name": ""}, "name"),
    ({"name": "A clinic name far too long for every text message"}, "name"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"emergency_phone": "9"}, "emergency_phone"),
    ({"page_detail": "loud"}, "page_detail"),
    ({"phone_24h": "maybe"}, "phone_24h"),
    ({"oncall": [{"name": "Dr Ray"}]}, "oncall.0"),
    ({"oncall": [{"name": "Dr Ray", "email": "r@glow.example", "page_by": "sms"}]},
     "oncall.0.phone"),
    ({"oncall": [{"name": "Dr Ray", "phone": "+14155550111", "page_by": "pager"}]},
     "oncall.0.page_by"),
]  # fmt: skip


def test_a_bad_value_is_422_naming_its_field_and_nothing_changes(client, factory, glow) -> None:
    headers = key(factory, glow, Role.CLINIC_ADMIN)
    before = client.get(url(glow), headers=headers).json()
    for body, field in BAD_VALUES:
        response = client.patch(url(glow), json={"name": "Renamed", **body}, headers=headers)
        assert fields(response) == [field], body
    assert client.get(url(glow), headers=headers).json() == before


def test_a_clinic_admin_cannot_take_another_clinics_sender_but_an_admin_may_share_it(
    client, factory, glow, other, settings
) -> None:
    mine = key(factory, glow, Role.CLINIC_ADMIN)
    assert fields(client.patch(url(glow), json={"sms_from": other.sms_from}, headers=mine)) == [
        "sms_from"
    ]
    assert (
        client.patch(url(glow), json={"sms_from": "+14155550192"}, headers=mine).json()["sms_from"]
        == "+14155550192"
    )
    shared = client.patch(url(glow), json={"sms_from": other.sms_from},
                          headers=key(factory, None, Role.ADMIN))  # fmt: skip
    assert shared.status_code == 200 and shared.json()["sms_from"] == other.sms_from


def test_quiet_hours_that_change_re_plan_what_is_not_sent(
    client, factory, glow, session: Session, now
) -> None:
    patient = factory.patient(glow, sms_consent_at=now, email_consent_at=now)
    enrollment = factory.enrol(glow, patient, procedure_at=now - timedelta(hours=2), now=now)
    headers = key(factory, glow, Role.CLINIC_ADMIN)
    response = client.patch(url(glow), json={"quiet_end": "10:30"}, headers=headers)
    assert response.status_code == 200, response.text
    replanned = response.json()["replanned"]  # botox's routine steps go at 09:00 and 10:00
    assert replanned["enrollments"] == 1 and replanned["moved"] > 0
    session.expire_all()
    query = select(Message).where(Message.enrollment_id == enrollment.id,
                                  Message.status == MessageStatus.SCHEDULED.value)  # fmt: skip
    for row in session.exec(query):
        if row.priority == "routine":
            local = row.next_attempt_at.astimezone(patient_tz(patient)).time()
            assert time(10, 30) <= local < time(20), (row.step_key, local)
    replan = session.exec(select(AuditLog).where(AuditLog.action == "clinic.replan")).one()
    assert replan.detail["enrollments"] == 1 and "quiet_end" in replan.reason


def patient_tz(patient):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo(patient.timezone)


def test_a_clinic_admin_sees_only_their_clinics_messages_with_their_text(
    client, factory, glow, other, now
) -> None:
    for clinic in (glow, other):
        patient = factory.patient(clinic, sms_consent_at=now)
        factory.enrol(clinic, patient, procedure_at=now + timedelta(days=1), now=now)
    headers = key(factory, glow, Role.CLINIC_ADMIN)
    page = client.get("/api/v1/messages?limit=500", headers=headers).json()
    assert page["total"] > 0 and {m["clinic_id"] for m in page["items"]} == {glow.id}
    assert client.get(f"/api/v1/messages?clinic={other.id}", headers=headers).status_code == 404
    first = page["items"][0]["id"]
    assert "body" in client.get(f"/api/v1/messages/{first}", headers=headers).json()
