"""Every error a person can reach is a styled page; the REST API and webhooks keep JSON."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import login

HTML = {"Accept": "text/html,application/xhtml+xml"}


def _is_page(response, status: int, title: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert '<link rel="stylesheet" href="/app/static/web.css">' in response.text
    assert f'<h1 id="error-h">{title}</h1>' in response.text
    assert f"Error {status}" in response.text
    assert response.headers["Content-Security-Policy"]


def test_an_unknown_page_under_app_is_a_styled_404(client) -> None:
    _is_page(client.get("/app/no-such-page"), 404, "Page not found")
    _is_page(client.get("/app/patients/1/nothing/here"), 404, "Page not found")


def test_an_unknown_address_asked_for_by_a_browser_is_a_page(client) -> None:
    _is_page(client.get("/no-such-page", headers=HTML), 404, "Page not found")


def test_the_rest_api_and_machines_keep_json(client) -> None:
    for path, headers in (("/api/v1/nope", HTML), ("/no-such-page", {}), ("/webhooks/x", HTML)):
        response = client.get(path, headers=headers)
        assert response.headers["content-type"].startswith("application/json"), path
        assert "detail" in response.json()


def test_a_wrong_method_is_a_page(client, staff) -> None:
    login(client, staff)
    _is_page(client.delete("/app/patients"), 405, "That action is not available here")


def test_another_role_is_told_on_a_page(client, operator) -> None:
    login(client, operator)
    _is_page(client.get("/app/patients"), 403, "Not allowed")


def test_a_malformed_id_is_a_422_page_naming_it(client, staff) -> None:
    login(client, staff)
    response = client.get("/app/patients/abc")
    _is_page(response, 422, "Please check what was sent")
    assert "patient_id" in response.text


@pytest.fixture
def failing_client(app):  # type: ignore[no-untyped-def]
    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/app/boom", boom)
    app.add_api_route("/metrics/boom", boom)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


def test_an_unexpected_failure_is_a_500_page_without_details(failing_client) -> None:
    response = failing_client.get("/app/boom")
    _is_page(response, 500, "Something went wrong on our side")
    assert "a bug" not in response.text and "Traceback" not in response.text
    api = failing_client.get("/metrics/boom")
    assert api.status_code == 500 and api.json() == {"detail": "internal server error"}
