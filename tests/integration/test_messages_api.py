"""`GET /api/v1/messages` and `GET /api/v1/messages/{id}`: filters, pages, visibility."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.domain import Channel, MessageStatus, Role
from service.outbox import transition
from tests.dispatch_support import ad_hoc, consenting

pytestmark = pytest.mark.parallel


@pytest.fixture
def client(settings, engine):
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


@pytest.fixture
def world(factory, session, now):
    """Two clinics with messages; a staff key for the first, an operator key."""
    a, b = factory.clinic(), factory.clinic()
    pa, pb = consenting(factory, a), consenting(factory, b)
    rows = [
        ad_hoc(
            session,
            clinic=a,
            patient=pa,
            due_at=now - timedelta(hours=i),
            key=f"a{i}",
            channel=Channel.SMS if i % 2 else Channel.EMAIL,
            to_address=f"+1415555{i:04d}",
        )
        for i in range(5)
    ]
    other = ad_hoc(session, clinic=b, patient=pb, due_at=now, key="b0")
    transition(session, rows[1], MessageStatus.SENDING, reason="claimed", now=now)
    transition(session, rows[1], MessageStatus.SENT, reason="accepted", now=now)
    session.commit()
    staff = factory.api_key(factory.user(a, Role.STAFF))
    operator = factory.api_key(factory.user(None, Role.OPERATOR))
    return {
        "a": a,
        "b": b,
        "rows": rows,
        "other": other,
        "staff": staff,
        "operator": operator,
        "patient": pa,
    }


def get(client, key, url, **params):
    return client.get(url, params=params, headers={"Authorization": f"Bearer {key}"})


def test_staff_see_only_their_clinics_messages(client, world):
    body = get(client, world["staff"], "/api/v1/messages").json()
    assert body["total"] == 5
    assert {item["clinic_id"] for item in body["items"]} == {world["a"].id}


def test_operators_see_every_clinic(client, world):
    assert get(client, world["operator"], "/api/v1/messages").json()["total"] == 6


def test_staff_asking_for_another_clinic_get_404(client, world):
    response = get(client, world["staff"], "/api/v1/messages", clinic=world["b"].id)
    assert response.status_code == 404


def test_it_filters_by_status_channel_patient_and_due_range(client, world, now):
    key, url = world["operator"], "/api/v1/messages"
    assert [i["id"] for i in get(client, key, url, status="sent").json()["items"]] == [
        world["rows"][1].id
    ]
    assert get(client, key, url, channel="email", clinic=world["a"].id).json()["total"] == 3
    assert get(client, key, url, patient=world["patient"].id).json()["total"] == 5
    ranged = get(
        client,
        key,
        url,
        due_from=(now - timedelta(hours=2, minutes=30)).isoformat(),
        due_to=(now - timedelta(minutes=30)).isoformat(),
    ).json()
    assert [i["id"] for i in ranged["items"]] == [world["rows"][1].id, world["rows"][2].id]


def test_it_pages_with_a_total_and_a_next_link(client, world):
    first = get(client, world["operator"], "/api/v1/messages", limit=4).json()
    assert (first["total"], len(first["items"])) == (6, 4)
    second = client.get(first["next"], headers={"Authorization": f"Bearer {world['operator']}"})
    page = second.json()
    assert len(page["items"]) == 2 and page["next"] is None
    seen = [i["id"] for i in first["items"] + page["items"]]
    assert len(set(seen)) == 6


def test_bad_filters_are_422_naming_the_field(client, world):
    response = get(client, world["operator"], "/api/v1/messages", status="lost")
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"].startswith("status")
    bad_range = get(
        client,
        world["operator"],
        "/api/v1/messages",
        due_from="2026-03-02T10:00:00Z",
        due_to="2026-03-01T10:00:00Z",
    )
    assert bad_range.status_code == 422


def test_recipients_are_masked_and_bodies_left_out_of_the_list(client, world):
    item = get(client, world["staff"], "/api/v1/messages", channel="sms").json()["items"][0]
    assert item["to"].startswith("+***") and "body" not in item


def test_the_detail_has_the_event_history(client, world):
    row = world["rows"][1]
    body = get(client, world["staff"], f"/api/v1/messages/{row.id}").json()
    assert [e["to_status"] for e in body["events"]] == ["scheduled", "sending", "sent"]
    assert body["body"] == row.body


def test_operators_get_the_detail_without_the_content(client, world):
    body = get(client, world["operator"], f"/api/v1/messages/{world['rows'][1].id}").json()
    assert body["body"] is None and body["events"]


def test_another_clinics_message_is_404(client, world):
    response = get(client, world["staff"], f"/api/v1/messages/{world['other'].id}")
    assert response.status_code == 404


def test_no_key_is_401(client, world):
    assert client.get("/api/v1/messages").status_code == 401
