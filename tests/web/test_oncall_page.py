"""The on-call page: the list in escalation order, refused rows named, a warning when
empty; clinic admins edit it, staff read it."""

from __future__ import annotations

import pytest

from service.clinics import oncall_list
from service.domain import Role
from tests.web.conftest import PASSWORD, csrf_from, login


@pytest.fixture
def boss(factory, clinic):  # type: ignore[no-untyped-def]
    return factory.user(clinic, Role.CLINIC_ADMIN, password=PASSWORD)


def _rows(token: str, *people: tuple[str, ...]) -> dict[str, str]:
    data = {"csrf_token": token, "rows": str(len(people) + 1)}
    for n, (name, phone, email, *by) in enumerate(people):
        data.update({f"name_{n}": name, f"phone_{n}": phone, f"email_{n}": email,
                     f"page_by_{n}": by[0] if by else "both"})  # fmt: skip
    return data


def test_clinic_admins_save_the_list_and_see_it_in_order(client, clinic, boss, session) -> None:
    token = login(client, boss)
    page = client.get("/app/oncall")
    assert "has no on-call list" in page.text and "On-call" in page.text
    data = _rows(token, ("Dr Ray", "(415) 555-0111", "", "sms"), ("Dr Ana", "", "ana@glow.example"))
    saved = client.post("/app/oncall", data=data, follow_redirects=True)
    assert saved.status_code == 200 and "On-call list saved." in saved.text
    assert "has no on-call list" not in saved.text
    assert [(p.name, p.phone, p.page_by) for p in oncall_list(session, clinic)] == [
        ("Dr Ray", "+14155550111", "sms"),
        ("Dr Ana", None, "both"),
    ]
    assert saved.text.index("Dr Ray") < saved.text.index("Dr Ana")


def test_staff_read_the_list_but_cannot_change_it(client, clinic, boss, staff, session) -> None:
    token = login(client, boss)
    client.post("/app/oncall", data=_rows(token, ("Dr Ray", "+14155550111", "")))
    client.post("/app/logout", data={"csrf_token": token})
    login(client, staff)
    page = client.get("/app/oncall")
    assert "Dr Ray" in page.text and "Save on-call list" not in page.text
    refused = client.post(
        "/app/oncall", data=_rows(csrf_from(page.text), ("Dr X", "+14155550112", ""))
    )
    assert refused.status_code == 403
    assert [p.name for p in oncall_list(session, clinic)] == ["Dr Ray"]


def test_a_row_with_a_name_but_no_phone_or_email_is_refused_next_to_it(
    client, clinic, boss, session
) -> None:
    token = login(client, boss)
    data = _rows(token, ("Dr Ray", "+14155550111", ""), ("Dr Nobody", "", ""))
    response = client.post("/app/oncall", data=data)
    assert response.status_code == 422
    assert (
        'id="e-name_1"' in response.text
        and "Dr Nobody: give a phone, an email or both" in response.text
    )
    assert 'value="Dr Nobody"' in response.text  # what was typed is kept
    assert oncall_list(session, clinic) == []
