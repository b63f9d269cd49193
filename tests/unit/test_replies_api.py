"""`GET /api/v1/replies`, `POST /api/v1/replies/{id}/handled` and `/assign` (DESIGN §5)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from service.db.models import Clinic, InboundMessage, Patient, ReplyItem
from service.domain import Role
from service.inbox import enter
from tests.factories import Factory


@pytest.fixture
def client(api_client: TestClient) -> TestClient:
    return api_client


def file_reply(
    session: Session, clinic: Clinic, text: str, label: str, at: datetime,
    patients: list[Patient],
) -> ReplyItem:  # fmt: skip
    inbound = InboundMessage(provider_id=f"SM{text}{at.timestamp()}", channel="sms",
                             clinic_id=clinic.id, from_address="+14155550123", body=text,
                             triaged_text=text, received_at=at)  # fmt: skip
    session.add(inbound)
    session.flush()
    item = enter(session, inbound=inbound, clinic=clinic, label=label, now=at,
                 patient=patients[0] if len(patients) == 1 else None,
                 candidates=[p.id for p in patients if p.id])  # fmt: skip
    session.commit()
    return item


@pytest.fixture
def seeded(factory: Factory, session: Session, now: datetime) -> dict[str, object]:
    ours, theirs = factory.clinic(), factory.clinic()
    ana = factory.patient(ours, first_name="Ana", phone="+14155550123")
    ben = factory.patient(ours, first_name="Ben", phone="+14155550123")
    later = now + timedelta(minutes=2)
    items = {
        "thanks": file_reply(session, ours, "thanks", "other", now, [ana]),
        "worse": file_reply(session, ours, "worse", "concern", now + timedelta(minutes=1), [ana]),
        "blue": file_reply(session, ours, "blue lips", "urgent", later, [ana, ben]),
        "theirs": file_reply(
            session, theirs, "elsewhere", "urgent", now, [factory.patient(theirs)]
        ),
    }
    return {
        "items": items, "ana": ana, "ben": ben, "ours": ours,
        "staff": factory.api_key(factory.user(ours, Role.STAFF)),
        "operator": factory.api_key(factory.user(None, Role.OPERATOR)),
        "admin": factory.api_key(factory.user(None, Role.ADMIN)),
    }  # fmt: skip


def auth(key: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_staff_list_their_clinics_unread_replies_most_urgent_and_oldest_first(
    client: TestClient, seeded: dict
) -> None:  # type: ignore[type-arg]
    body = client.get("/api/v1/replies", headers=auth(seeded["staff"])).json()
    assert [r["text"] for r in body["items"]] == ["blue lips", "worse", "thanks"]
    assert body["total"] == 3
    first = body["items"][0]
    assert set(first) >= {"id", "received_at", "channel", "text", "label", "patient_ids",
                          "clinic_id", "alert_id", "handled_at", "handled_by"}  # fmt: skip
    assert first["label"] == "urgent" and first["channel"] == "sms"
    # A reply from a number two patients share lists both, and is nobody's yet.
    assert first["patient_ids"] == [seeded["ana"].id, seeded["ben"].id]
    assert first["patient_id"] is None


def test_a_reply_marked_handled_leaves_unread_and_shows_under_handled(
    client: TestClient, seeded: dict
) -> None:  # type: ignore[type-arg]
    reply_id = seeded["items"]["thanks"].id
    response = client.post(f"/api/v1/replies/{reply_id}/handled", json={"note": "said thanks"},
                           headers=auth(seeded["staff"]))  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["handled_by"].startswith("api_key:")
    assert response.json()["handled_note"] == "said thanks"
    unread = client.get("/api/v1/replies?status=unread", headers=auth(seeded["staff"])).json()
    handled = client.get("/api/v1/replies?status=handled", headers=auth(seeded["staff"])).json()
    every = client.get("/api/v1/replies?status=all", headers=auth(seeded["staff"])).json()
    assert reply_id not in [r["id"] for r in unread["items"]]
    assert [r["id"] for r in handled["items"]] == [reply_id]
    assert every["total"] == 3
    # Without a body too.
    other = seeded["items"]["worse"].id
    assert client.post(f"/api/v1/replies/{other}/handled", headers=auth(seeded["staff"])).json()[
        "handled_at"
    ]


def test_a_shared_number_reply_is_assigned_to_one_of_its_patients(
    client: TestClient, seeded: dict
) -> None:  # type: ignore[type-arg]
    reply_id = seeded["items"]["blue"].id
    body = {"patient_id": seeded["ben"].id}
    response = client.post(
        f"/api/v1/replies/{reply_id}/assign", json=body, headers=auth(seeded["staff"])
    )
    assert response.status_code == 200, response.text
    assert response.json()["patient_id"] == seeded["ben"].id
    assert response.json()["patient_ids"] == [seeded["ben"].id, seeded["ana"].id]


def test_assigning_to_a_patient_the_reply_cannot_be_from_is_422_naming_the_field(
    client: TestClient, seeded: dict, factory: Factory
) -> None:  # type: ignore[type-arg]
    stranger = factory.patient(seeded["ours"], phone="+14155550999")
    reply_id = seeded["items"]["blue"].id
    for body in ({"patient_id": stranger.id}, {"patient_id": "x"}, {}):
        response = client.post(f"/api/v1/replies/{reply_id}/assign", json=body,
                               headers=auth(seeded["staff"]))  # fmt: skip
        assert response.status_code == 422
        assert response.json()["detail"][0]["field"] == "patient_id"


def test_another_clinics_reply_is_404_and_operators_are_403(
    client: TestClient, seeded: dict
) -> None:  # type: ignore[type-arg]
    theirs = seeded["items"]["theirs"].id
    for path in (f"/api/v1/replies/{theirs}/handled", f"/api/v1/replies/{theirs}/assign"):
        response = client.post(path, json={"patient_id": 1}, headers=auth(seeded["staff"]))
        assert response.status_code == 404
    assert client.get("/api/v1/replies", headers=auth(seeded["operator"])).status_code == 403
    assert client.get("/api/v1/replies").status_code == 401
    assert (
        client.get("/api/v1/replies?status=bogus", headers=auth(seeded["staff"])).json()["detail"][
            0
        ]["field"]
        == "status"
    )


def test_admins_see_every_clinic_or_the_one_they_name(client: TestClient, seeded: dict) -> None:  # type: ignore[type-arg]
    every = client.get("/api/v1/replies", headers=auth(seeded["admin"])).json()
    assert every["total"] == 4
    ours = client.get(f"/api/v1/replies?clinic_id={seeded['ours'].id}",
                      headers=auth(seeded["admin"])).json()  # fmt: skip
    assert ours["total"] == 3
