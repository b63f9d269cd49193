"""The clinic settings page: a clinic admin changes their clinic's settings and sees who
changed what; bad values are named next to their field; staff and other clinics cannot."""

from __future__ import annotations

import re
from datetime import time

import pytest
from sqlmodel import select

from service.db.models import AuditLog, Clinic
from service.domain import Role
from tests.web.conftest import PASSWORD, csrf_from, login


@pytest.fixture
def boss(factory, clinic):  # type: ignore[no-untyped-def]
    return factory.user(clinic, Role.CLINIC_ADMIN, password=PASSWORD, name="Bea Boss")


_INPUT = re.compile(r"<input\b[^>]*>")
_ATTR = re.compile(r'(name|value|type)="([^"]*)"')


def _form(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The settings form as the page fills it (text inputs, hidden ones, the select)."""
    html = client.get("/app/settings").text
    values = {}
    for tag in _INPUT.findall(html):
        attrs = dict(_ATTR.findall(tag))
        if "name" in attrs and attrs.get("type") != "checkbox":
            values[attrs["name"]] = attrs.get("value", "")
    return values | {"page_detail": "full"}


def test_a_clinic_admin_changes_settings_and_sees_who_changed_what(
    client, clinic, boss, session
) -> None:
    login(client, boss)
    page = client.get("/app/settings")
    assert page.status_code == 200 and 'href="/app/settings"' in page.text
    assert 'min="1" max="1440"' in page.text  # literal attributes, not escaped ones
    data = _form(client) | {"quiet_start": "21:00", "name": "Lakeside Skin", "phone_24h": "on"}
    saved = client.post("/app/settings", data=data, follow_redirects=True)
    assert saved.status_code == 200 and "Settings saved" in saved.text
    session.expire_all()
    fresh = session.get(Clinic, clinic.id)
    assert (fresh.quiet_start, fresh.name, fresh.phone_24h) == (time(21), "Lakeside Skin", True)
    changes = saved.text[saved.text.index("Recent changes") :]
    for words in ("Bea Boss", "Quiet hours start", "20:00", "21:00", "Lakeside Aesthetics"):
        assert words in changes
    audit = session.exec(select(AuditLog).where(AuditLog.action == "clinic.update")).one()
    assert audit.actor == f"user:{boss.id}" and audit.detail["changes"]["phone_24h"]["to"]


def test_a_change_over_rest_shows_whose_key_made_it(client, factory, clinic, boss) -> None:
    key = factory.api_key(boss)
    response = client.patch(f"/api/v1/clinics/{clinic.id}/settings", json={"quiet_end": "07:30"},
                            headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert response.status_code == 200, response.text
    login(client, boss)
    changes = client.get("/app/settings").text.split("Recent changes")[1]
    assert "API key of Bea Boss" in changes and "07:30" in changes


def test_bad_values_are_named_next_to_their_fields_and_nothing_is_saved(
    client, clinic, boss, session
) -> None:
    login(client, boss)
    data = _form(client) | {"quiet_start": "08:00", "quiet_end": "20:00", "name": "Renamed"}
    refused = client.post("/app/settings", data=data)
    assert refused.status_code == 422
    assert 'id="e-quiet_start"' in refused.text and "swapped" in refused.text
    assert 'value="Renamed"' in refused.text  # what was typed is kept
    unreadable = client.post("/app/settings", data=data | {"alert_ack_minutes": "ten"})
    assert unreadable.status_code == 422 and 'id="e-alert_ack_minutes"' in unreadable.text
    session.expire_all()
    assert session.get(Clinic, clinic.id).name == "Lakeside Aesthetics"


def test_staff_and_operators_cannot_open_it(client, staff, operator) -> None:
    login(client, staff)
    assert 'href="/app/settings"' not in client.get("/app/oncall").text
    assert client.get("/app/settings").status_code == 403
    token = csrf_from(client.get("/app/oncall").text)
    assert client.post("/app/settings", data={"csrf_token": token, "name": "X"}).status_code == 403
    client.post("/app/logout", data={"csrf_token": token})
    login(client, operator)
    assert client.get("/app/settings").status_code == 403


def test_a_clinic_admin_cannot_reach_another_clinic(client, factory, clinic, boss, session) -> None:
    other = factory.clinic(name="Hillside")
    login(client, boss)
    assert "Hillside" not in client.get(f"/app/settings?clinic_id={other.id}").text
    data = _form(client) | {"clinic_id": str(other.id), "name": "Taken over"}
    client.post("/app/settings", data=data)
    session.expire_all()
    assert session.get(Clinic, other.id).name == "Hillside"  # their own clinic changed instead
    assert session.get(Clinic, clinic.id).name == "Taken over"
