"""CSV import from the browser: good rows enrolled, bad rows reported by line and column."""

from __future__ import annotations

from sqlmodel import select

from service.db.models import Enrollment
from tests.web.conftest import login

CSV = (
    "first_name,last_name,phone,plan,procedure_at\n"
    "Ana,Lopez,+14155550101,botox,2026-12-01T10:00\n"
    "Ben,Ng,12,botox,2026-12-01T10:00\n"
    "Cy,Ode,+14155550103,nose_job,2026-12-01T10:00\n"
    "Di,Park,+14155550104,,2026-12-02T09:00\n"
)


def _upload(client, token, content: bytes, **data: str):  # type: ignore[no-untyped-def]
    files = {"file": ("patients.csv", content, "text/csv")}
    return client.post("/app/import", data={"csrf_token": token, **data}, files=files)


def test_good_rows_are_enrolled_and_bad_rows_named(client, clinic, staff, session) -> None:
    token = login(client, staff)
    page = _upload(client, token, CSV.encode(), plan="microneedling").text
    assert "<strong>2</strong> enrolled" in page
    assert "2 rows with problems" in page
    assert '<td data-label="Line">3</td><td data-label="Column">phone</td>' in page
    assert '<td data-label="Line">4</td><td data-label="Column">plan</td>' in page
    plans = sorted(e.plan_key for e in session.exec(select(Enrollment)))
    assert plans == ["botox", "microneedling"]


def test_importing_the_same_file_again_enrols_nobody_twice(client, clinic, staff, session) -> None:
    token = login(client, staff)
    _upload(client, token, CSV.encode(), plan="botox")
    again = _upload(client, token, CSV.encode(), plan="botox").text
    assert "<strong>0</strong> enrolled" in again and "2 already enrolled" in again
    assert len(session.exec(select(Enrollment)).all()) == 2


def test_a_file_without_the_required_columns_is_explained(client, clinic, staff) -> None:
    token = login(client, staff)
    response = _upload(client, token, b"name,phone\nAna,+14155550101\n")
    assert response.status_code == 422
    assert "missing column" in response.text


def test_a_file_that_is_not_utf8_is_explained(client, clinic, staff) -> None:
    token = login(client, staff)
    response = _upload(client, token, "first_name\nJos\xe9\n".encode("latin-1"))
    assert response.status_code == 422
    assert "not UTF-8" in response.text


def test_no_file_is_explained(client, clinic, staff) -> None:
    token = login(client, staff)
    response = client.post("/app/import", data={"csrf_token": token})
    assert response.status_code == 422
    assert "Choose a CSV file" in response.text
