"""Sign-in, sessions and CSRF (throttling and server-side sessions: test_sessions.py)."""

from __future__ import annotations

from service.web.session import SECURE_COOKIE_NAME as COOKIE_NAME  # the tests talk https
from tests.web.conftest import PASSWORD, csrf_from, login


def _post_login(client, email, password, token=None):  # type: ignore[no-untyped-def]
    token = token or csrf_from(client.get("/app/login").text)
    return client.post(
        "/app/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def test_pages_redirect_to_login_when_signed_out(client) -> None:
    response = client.get("/app/patients", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/app/login?next=%2Fapp%2Fpatients")


def test_it_signs_in_staff_and_lands_on_the_alert_inbox(client, staff) -> None:
    response = _post_login(client, staff.email, PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/app/alerts"


def test_the_session_cookie_is_httponly_samesite_lax_and_secure(client, staff) -> None:
    response = _post_login(client, staff.email, PASSWORD)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=") and COOKIE_NAME.startswith("__Host-")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie  # what __Host- requires


def test_over_plain_http_the_cookie_has_no_host_prefix(settings, engine) -> None:
    from fastapi.testclient import TestClient

    from service.api.app import create_app

    local = settings.model_copy(update={"public_base_url": "http://127.0.0.1:8000"})
    with TestClient(create_app(local, engine=engine)) as client:
        cookie = client.get("/app/login").headers["set-cookie"]
    assert cookie.startswith("aftercare_session=") and "Secure" not in cookie


def test_an_operator_lands_on_the_delivery_log(client, operator) -> None:
    response = _post_login(client, operator.email, PASSWORD)
    assert response.headers["location"] == "/app/ops/messages"


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client, staff) -> None:
    response = _post_login(client, staff.email, "not the password")
    assert response.status_code == 401
    assert "Email or password is not right." in response.text
    assert _post_login(client, "nobody@example.test", "x").status_code == 401


def test_login_without_the_csrf_token_is_refused(client, staff) -> None:
    client.get("/app/login")
    response = _post_login(client, staff.email, PASSWORD, token="forged")
    assert response.status_code == 403
    assert "expired" in response.text


def test_logout_ends_the_session(client, staff) -> None:
    token = login(client, staff)
    response = client.post("/app/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/app/alerts", follow_redirects=False).status_code == 303


def test_logout_needs_the_csrf_token(client, staff) -> None:
    login(client, staff)
    response = client.post("/app/logout", data={"csrf_token": "nope"}, follow_redirects=False)
    assert response.status_code == 403


def test_a_forged_cookie_is_ignored(client, staff) -> None:
    client.cookies.set(COOKIE_NAME, "eyJ1aWQiOjF9.forged.sig")
    assert client.get("/app/alerts", follow_redirects=False).status_code == 303


def test_a_deactivated_user_loses_their_session(client, staff, session) -> None:
    login(client, staff)
    staff.is_active = False
    session.add(staff)
    session.commit()
    assert client.get("/app/alerts", follow_redirects=False).status_code == 303


def test_next_only_redirects_within_the_app(client, staff) -> None:
    token = csrf_from(client.get("/app/login").text)
    response = client.post(
        "/app/login",
        data={
            "email": staff.email,
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/app/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/app/alerts"


def test_pages_send_a_strict_content_security_policy(client) -> None:
    response = client.get("/app/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
