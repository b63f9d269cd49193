"""GET /api/v1/alerts, POST /api/v1/alerts/{id}/ack and /resolve on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from service.alerts import open_alert
from service.api.app import create_app
from service.db.models import Alert, AuditLog
from service.domain import AlertSeverity, Role
from tests.factories import Factory

pytestmark = pytest.mark.parallel


@pytest.fixture
def client(pg_settings, pg_engine):  # type: ignore[no-untyped-def]
    with TestClient(create_app(pg_settings, engine=pg_engine)) as client:
        yield client


@pytest.fixture
def seeded(pg_engine):  # type: ignore[no-untyped-def]
    """Two clinics; ours has a task, a concern and an urgent alert (created in that order)."""
    now = datetime.now(UTC)
    with Session(pg_engine, expire_on_commit=False) as session:
        factory = Factory(session)
        ours, theirs = factory.clinic(), factory.clinic()
        patient = factory.patient(ours)
        ids = {}
        for n, severity in enumerate(
            [AlertSeverity.TASK, AlertSeverity.CONCERN, AlertSeverity.URGENT]
        ):
            alert = open_alert(session, clinic=ours, severity=severity, kind=f"k{n}",
                               summary=f"s{n}", now=now + timedelta(seconds=n),
                               patient_id=patient.id)  # fmt: skip
            ids[severity.value] = alert.id
        other = open_alert(session, clinic=theirs, severity=AlertSeverity.URGENT, kind="x",
                           summary="theirs", now=now)  # fmt: skip
        ids["other"] = other.id
        staff = factory.api_key(factory.user(ours, Role.STAFF))
        operator = factory.api_key(factory.user(None, Role.OPERATOR))
        admin = factory.api_key(factory.user(None, Role.ADMIN))
        session.commit()
    return {"ids": ids, "staff": staff, "operator": operator, "admin": admin}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_staff_see_their_clinics_alerts_urgent_first(client, seeded) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/alerts", headers=auth(seeded["staff"])).json()
    assert [a["severity"] for a in body["items"]] == ["urgent", "concern", "task"]
    assert seeded["ids"]["other"] not in [a["id"] for a in body["items"]]


def test_alerts_filter_by_status_and_severity(client, seeded) -> None:  # type: ignore[no-untyped-def]
    headers = auth(seeded["staff"])
    urgent = client.get("/api/v1/alerts?severity=urgent", headers=headers).json()["items"]
    assert [a["id"] for a in urgent] == [seeded["ids"]["urgent"]]
    client.post(f"/api/v1/alerts/{seeded['ids']['concern']}/ack", headers=headers)
    acked = client.get("/api/v1/alerts?status=acknowledged", headers=headers).json()["items"]
    assert [a["id"] for a in acked] == [seeded["ids"]["concern"]]
    assert client.get("/api/v1/alerts?status=nope", headers=headers).status_code == 422


def test_admins_see_every_clinic(client, seeded) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/alerts", headers=auth(seeded["admin"])).json()
    assert body["total"] == 4


def test_ack_then_resolve_is_audited(client, seeded, pg_engine) -> None:  # type: ignore[no-untyped-def]
    alert_id = seeded["ids"]["urgent"]
    acked = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=auth(seeded["staff"]))
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged" and acked.json()["next_escalation_at"] is None
    resolved = client.post(f"/api/v1/alerts/{alert_id}/resolve", json={"note": "called her"},
                           headers=auth(seeded["staff"]))  # fmt: skip
    assert resolved.json()["status"] == "resolved"
    again = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=auth(seeded["staff"]))
    assert again.status_code == 409
    with Session(pg_engine) as session:
        actions = session.exec(
            select(AuditLog.action).where(
                AuditLog.entity_type == "alert", AuditLog.entity_id == alert_id
            )
        ).all()
        assert {"alert.open", "alert.acknowledge", "alert.resolve"} <= set(actions)
        alert = session.get(Alert, alert_id)
        assert alert is not None and alert.resolved_by and alert.resolved_by.startswith("api_key")


@pytest.mark.parametrize("action", ["ack", "resolve"])
def test_another_clinics_alert_and_a_missing_one_get_the_same_answer(
    client, seeded, action
) -> None:  # type: ignore[no-untyped-def]
    other = seeded["ids"]["other"]
    response = client.post(f"/api/v1/alerts/{other}/{action}", headers=auth(seeded["staff"]))
    missing = client.post(f"/api/v1/alerts/999999/{action}", headers=auth(seeded["staff"]))
    assert response.status_code == missing.status_code == 404
    assert response.json() == missing.json()  # no probing which ids exist elsewhere


def test_operators_and_anonymous_callers_cannot_touch_alerts(client, seeded) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/alerts").status_code == 401
    assert client.get("/api/v1/alerts", headers=auth(seeded["operator"])).status_code == 403
    alert_id = seeded["ids"]["urgent"]
    response = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=auth(seeded["operator"]))
    assert response.status_code == 403
