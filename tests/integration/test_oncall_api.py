"""REST: a clinic's on-call list, read by staff and replaced by its clinic admins;
entries that page nobody are 422."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.domain import Role

pytestmark = pytest.mark.parallel


@pytest.fixture
def client(settings, engine):
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


@pytest.fixture
def clinic(factory):
    return factory.clinic(name="Glow")


def auth(factory, clinic, role=Role.STAFF):
    return {"Authorization": f"Bearer {factory.api_key(factory.user(clinic, role))}"}


def test_clinic_admins_replace_their_clinics_list_and_staff_read_it_back(client, factory, clinic):
    headers = auth(factory, clinic, Role.CLINIC_ADMIN)
    staff = auth(factory, clinic)
    url = f"/api/v1/clinics/{clinic.id}/oncall"
    empty = client.get(url, headers=headers).json()
    assert empty["oncall"] == [] and "no on-call list" in empty["warnings"][0]
    body = {
        "oncall": [
            {"name": "Dr Ray", "phone": "(415) 555-0111"},
            {"name": "Dr Ana", "email": "ana@glow.example"},
        ]
    }
    saved = client.put(url, json=body, headers=headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["warnings"] == []
    assert [p["phone"] for p in client.get(url, headers=staff).json()["oncall"]] == [
        "+14155550111",
        None,
    ]
    refused = client.put(url, json={"oncall": []}, headers=staff)
    assert refused.status_code == 403 and "clinic_admin" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("person", "field"),
    [
        ({"name": "Dr Nobody"}, "oncall.1"),
        ({"name": "Dr Typo", "phone": "12"}, "oncall.1.phone"),
        ({"name": "Dr Text", "email": "t@glow.example", "page_by": "sms"}, "oncall.1.phone"),
    ],
)
def test_an_entry_that_pages_nobody_is_422_naming_it(client, factory, clinic, person, field):
    headers = auth(factory, clinic, Role.CLINIC_ADMIN)
    url = f"/api/v1/clinics/{clinic.id}/oncall"
    body = {"oncall": [{"name": "Dr Ray", "phone": "+14155550111"}, person]}
    response = client.put(url, json=body, headers=headers)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == [field]
    assert client.get(url, headers=headers).json()["oncall"] == []  # nothing half-saved


def test_another_clinics_list_is_404_and_operators_cannot_touch_it(client, factory, clinic):
    other = factory.clinic()
    url = f"/api/v1/clinics/{clinic.id}/oncall"
    assert client.get(url, headers=auth(factory, other)).status_code == 404
    their_admin = auth(factory, other, Role.CLINIC_ADMIN)
    assert client.put(url, json={"oncall": []}, headers=their_admin).status_code == 404
    assert client.get(url, headers=auth(factory, None, Role.OPERATOR)).status_code == 403
    assert client.get(url).status_code == 401
