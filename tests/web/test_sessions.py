"""Server-side sessions (logout, idle timeout, revocation) and throttled sign-in.

Before: logout only cleared the cookie, so a copy of it kept loading patients and
pausing enrolments for twelve hours; five wrong passwords locked any known account for
fifteen minutes and signed its user out, only known accounts said "locked", and a
locked account answered without hashing (5 ms against 165 ms).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from service import accounts, login_throttle, sessions, user_admin
from service.db.models import AuditLog, LoginThrottle, User, UserSession
from service.db.types import utcnow
from service.domain import Role
from service.web import auth
from service.web.session import SECURE_COOKIE_NAME as COOKIE_NAME  # the tests talk https
from tests.web.conftest import PASSWORD, csrf_from, login


def post_login(client, email: str, password: str):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/app/login").text)
    form = {"email": email, "password": password, "csrf_token": token}
    return client.post("/app/login", data=form, follow_redirects=False)


def signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    return client.get("/app/patients", follow_redirects=False).status_code == 200


def live_rows(session, user) -> list[UserSession]:  # type: ignore[no-untyped-def]
    session.expire_all()
    rows = session.exec(select(UserSession).where(UserSession.user_id == user.id)).all()
    return [r for r in rows if r.revoked_at is None]


# --- sessions -------------------------------------------------------------------------


def test_a_copy_of_the_cookie_is_dead_after_logout(client, staff, session) -> None:
    token = login(client, staff)
    stolen = client.cookies.get(COOKIE_NAME)
    client.post("/app/logout", data={"csrf_token": token}, follow_redirects=False)
    client.cookies.set(COOKIE_NAME, stolen)  # the copy an attacker kept
    assert not signed_in(client)
    response = client.post("/app/alerts/1/ack", data={"csrf_token": token},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303 and "/app/login" in response.headers["location"]
    assert live_rows(session, staff) == []


def test_the_database_keeps_only_a_digest_of_the_session_token(client, staff, session) -> None:
    login(client, staff)
    cookie = client.cookies.get(COOKIE_NAME)
    (row,) = live_rows(session, staff)
    assert row.token_hash not in cookie and len(row.token_hash) == 64
    assert str(staff.id) != row.token_hash


def test_an_idle_session_ends(client, staff, session) -> None:
    login(client, staff)
    (row,) = live_rows(session, staff)
    row.last_seen_at = utcnow() - timedelta(minutes=31)  # the default is 30 minutes
    session.add(row)
    session.commit()
    assert not signed_in(client)


def test_an_active_session_is_kept_alive(client, staff, session) -> None:
    login(client, staff)
    (row,) = live_rows(session, staff)
    row.last_seen_at = utcnow() - timedelta(minutes=29)
    session.add(row)
    session.commit()
    assert signed_in(client)
    (row,) = live_rows(session, staff)
    assert utcnow() - row.last_seen_at < timedelta(minutes=1)


def test_the_idle_timeout_is_a_setting(settings, engine, staff, session) -> None:
    from fastapi.testclient import TestClient

    from service.api.app import create_app

    app = create_app(settings.model_copy(update={"session_idle_minutes": 5}), engine=engine)
    with TestClient(app, base_url="https://testserver") as client:
        login(client, staff)
        (row,) = live_rows(session, staff)
        row.last_seen_at = utcnow() - timedelta(minutes=6)
        session.add(row)
        session.commit()
        assert not signed_in(client)


def test_a_session_ends_after_twelve_hours_however_active(client, staff, session) -> None:
    login(client, staff)
    (row,) = live_rows(session, staff)
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    assert not signed_in(client)


@pytest.mark.parametrize("change", ["password", "deactivate", "role"])
def test_password_role_and_deactivation_end_every_session(client, staff, session, change) -> None:
    login(client, staff)
    assert signed_in(client)
    now = utcnow()
    if change == "password":
        user_admin.reset_password(session, staff, password="a brand new passphrase",
                                  actor="cli", now=now)  # fmt: skip
    elif change == "deactivate":
        user_admin.set_active(session, staff, active=False, actor="cli", now=now)
    else:
        user_admin.set_role(session, staff, role=Role.OPERATOR, clinic_id=None, actor="cli",
                            now=now)  # fmt: skip
    session.commit()
    assert not signed_in(client)
    assert live_rows(session, staff) == []


def test_signing_in_again_replaces_the_browsers_session(client, staff, session) -> None:
    login(client, staff)
    first = client.cookies.get(COOKIE_NAME)
    login(client, staff)
    assert client.cookies.get(COOKIE_NAME) != first
    assert len(live_rows(session, staff)) == 1


# --- throttling -----------------------------------------------------------------------


def test_failures_never_sign_out_an_existing_session(client, app, staff) -> None:
    from fastapi.testclient import TestClient

    login(client, staff)
    with TestClient(app, base_url="https://testserver") as attacker:
        for _ in range(12):
            post_login(attacker, staff.email, "guessing wrong")
    assert signed_in(client)


def test_known_and_unknown_emails_get_identical_answers(client, staff) -> None:
    answers = {}
    for email in (staff.email, "nobody@example.test"):
        client.cookies.clear()
        seen = []
        for _ in range(8):
            response = post_login(client, email, "guessing wrong")
            text = response.text.replace(email, "EMAIL")
            text = text.replace(csrf_from(response.text), "CSRF")
            seen.append((response.status_code, response.headers.get("Retry-After"), text))
        answers[email] = seen
    assert answers[staff.email] == answers["nobody@example.test"]
    statuses = [status for status, _, _ in answers[staff.email]]
    assert statuses[:5] == [401] * 5 and 429 in statuses  # throttled after the allowance
    assert "locked" not in answers[staff.email][-1][2]


def test_every_attempt_verifies_exactly_one_password_hash(session, factory, monkeypatch) -> None:
    calls = []
    real = accounts.verify_password

    def counting(user, password):  # type: ignore[no-untyped-def]
        calls.append(user.email)
        return real(user, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    clinic = factory.clinic()
    active = factory.user(clinic, password=PASSWORD)
    inactive = factory.user(clinic, password=PASSWORD)
    inactive.is_active = False
    session.add(inactive)
    now = utcnow()
    cases = [("nobody@example.test", "x" * 12), (inactive.email, PASSWORD),
             (active.email, "wrong password!"), (active.email, PASSWORD)]  # fmt: skip
    for email, password in cases:
        calls.clear()
        auth.attempt_login(session, email=email, password=password, client="10.0.0.1", now=now)
        assert len(calls) == 1, email
    # Throttled: the same work again, the right password refused until the wait is over.
    for _ in range(6):
        auth.attempt_login(session, email=active.email, password="nope", client="10.0.0.2",
                           now=now)  # fmt: skip
    calls.clear()
    outcome = auth.attempt_login(session, email=active.email, password=PASSWORD,
                                 client="10.0.0.2", now=now)  # fmt: skip
    assert len(calls) == 1 and not outcome.ok and outcome.retry_after >= 1
    later = now + timedelta(seconds=outcome.retry_after)
    assert auth.attempt_login(session, email=active.email, password=PASSWORD,
                              client="10.0.0.2", now=later).ok  # fmt: skip


def test_the_wait_grows_and_stops_at_fifteen_minutes(session) -> None:
    now = utcnow()
    keys = login_throttle.keys_for("ana@example.test", "10.0.0.3")
    waits = []
    for _ in range(30):
        login_throttle.failed(session, keys, now=now)
        waits.append(login_throttle.wait(session, keys, now=now).total_seconds())
    assert waits[:5] == [0] * 5
    assert waits[5:9] == [1, 2, 4, 8]
    assert max(waits) == 15 * 60


def test_another_client_keeps_its_own_allowance(session, factory) -> None:
    clinic = factory.clinic()
    nurse = factory.user(clinic, password=PASSWORD)
    now = utcnow()
    for _ in range(10):  # an attacker elsewhere
        auth.attempt_login(session, email=nurse.email, password="nope", client="203.0.113.9",
                           now=now)  # fmt: skip
    at_work = auth.attempt_login(session, email=nurse.email, password=PASSWORD,
                                 client="10.0.0.4", now=now)  # fmt: skip
    assert at_work.ok


def test_unlock_forgets_the_failures(session, factory) -> None:
    nurse = factory.user(factory.clinic(), password=PASSWORD)
    now = utcnow()
    for _ in range(8):
        auth.attempt_login(session, email=nurse.email, password="nope", client="10.0.0.5",
                           now=now)  # fmt: skip
    assert not auth.attempt_login(session, email=nurse.email, password=PASSWORD,
                                  client="10.0.0.5", now=now).ok  # fmt: skip
    user_admin.unlock(session, nurse, actor="cli")
    assert auth.attempt_login(session, email=nurse.email, password=PASSWORD,
                              client="10.0.0.5", now=now).ok  # fmt: skip
    actions = session.exec(select(AuditLog.action).where(AuditLog.entity_id == nurse.id)).all()
    assert {"user.login_failed", "user.login_throttled", "user.unlock", "user.login"} <= set(
        actions
    )


def test_no_email_is_stored_in_the_throttle(session) -> None:
    login_throttle.failed(session, login_throttle.keys_for("ana@example.test", "10.9.9.9"),
                          now=utcnow())  # fmt: skip
    keys = " ".join(session.exec(select(LoginThrottle.key)).all())
    assert "ana" not in keys and "10.9.9.9" not in keys


# --- admin pages ----------------------------------------------------------------------


@pytest.fixture
def admin(factory) -> User:  # type: ignore[no-untyped-def]
    return factory.user(None, role=Role.ADMIN, password=PASSWORD)


def test_admins_list_users_and_staff_cannot(client, staff, admin) -> None:
    login(client, staff)
    assert client.get("/app/admin/users").status_code == 403
    client.cookies.clear()
    login(client, admin)
    page = client.get("/app/admin/users").text
    assert staff.email in page and admin.email in page


def test_an_admin_deactivates_a_user_who_is_signed_out_at_once(
    client, app, staff, admin, session
) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="https://testserver") as nurse:
        login(nurse, staff)
        token = login(client, admin)
        response = client.post(f"/app/admin/users/{staff.id}/deactivate",
                               data={"csrf_token": token})  # fmt: skip
        assert "Account deactivated" in response.text
        assert not signed_in(nurse)
    audit = session.exec(select(AuditLog).where(AuditLog.action == "user.deactivate")).one()
    assert audit.actor == f"user:{admin.id}" and audit.entity_id == staff.id


def test_an_admin_resets_a_password_checking_it(client, staff, admin, session) -> None:
    token = login(client, admin)
    form = {"csrf_token": token, "password": "short", "confirm": "short"}
    short = client.post(f"/app/admin/users/{staff.id}/password", data=form)
    assert short.status_code == 422 and "At least 12 characters" in short.text
    new = "a much longer passphrase"
    done = client.post(f"/app/admin/users/{staff.id}/password",
                       data={"csrf_token": token, "password": new, "confirm": new})  # fmt: skip
    assert "Password changed" in done.text
    session.expire_all()
    assert accounts.verify_password(session.get(User, staff.id), new)


def test_an_admin_ends_one_session_and_revokes_a_key(
    client, staff, admin, session, factory
) -> None:
    from fastapi.testclient import TestClient

    key = factory.api_key(staff)
    token = login(client, admin)
    with TestClient(client.app, base_url="https://testserver") as nurse:
        login(nurse, staff)
        (row,) = live_rows(session, staff)
        page = client.get(f"/app/admin/users/{staff.id}").text
        assert f"/sessions/{row.id}/end" in page and "ac_" in page
        client.post(f"/app/admin/users/{staff.id}/sessions/{row.id}/end",
                    data={"csrf_token": token})  # fmt: skip
        assert not signed_in(nurse)
    key_id = session.exec(select(accounts.ApiKey.id)).one()
    client.post(f"/app/admin/users/{staff.id}/keys/{key_id}/revoke", data={"csrf_token": token})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_an_admin_cannot_deactivate_themselves(client, admin) -> None:
    token = login(client, admin)
    response = client.post(f"/app/admin/users/{admin.id}/deactivate", data={"csrf_token": token})
    assert response.status_code == 409
    assert signed_in(client)


def test_sessions_module_reports_live_sessions(session, factory) -> None:
    user = factory.user(factory.clinic(), password=PASSWORD)
    now = utcnow()
    sessions.start(session, user=user, now=now, user_agent="Firefox")
    sessions.start(session, user=user, now=now - timedelta(hours=1), user_agent="old")
    live = sessions.live_for(session, user_id=user.id, now=now, idle=timedelta(minutes=30))
    assert [r.user_agent for r in live] == ["Firefox"]
