"""The on-call page: the list in escalation order, refused rows named, a warning when empty."""

from __future__ import annotations

from service.clinics import oncall_list
from tests.web.conftest import login


def _rows(token: str, *people: tuple[str, str, str]) -> dict[str, str]:
    data = {"csrf_token": token, "rows": str(len(people) + 1)}
    for n, (name, phone, email) in enumerate(people):
        data.update({f"name_{n}": name, f"phone_{n}": phone, f"email_{n}": email})
    return data


def test_staff_save_their_on_call_list_and_see_it_in_order(client, clinic, staff, session) -> None:
    token = login(client, staff)
    page = client.get("/app/oncall")
    assert "has no on-call list" in page.text and "On-call" in page.text
    data = _rows(token, ("Dr Ray", "(415) 555-0111", ""), ("Dr Ana", "", "ana@glow.example"))
    saved = client.post("/app/oncall", data=data, follow_redirects=True)
    assert saved.status_code == 200 and "On-call list saved." in saved.text
    assert "has no on-call list" not in saved.text
    assert [(p.name, p.phone) for p in oncall_list(session, clinic)] == [
        ("Dr Ray", "+14155550111"),
        ("Dr Ana", None),
    ]
    assert saved.text.index("Dr Ray") < saved.text.index("Dr Ana")


def test_a_row_with_a_name_but_no_phone_or_email_is_refused_next_to_it(
    client, clinic, staff, session
) -> None:
    token = login(client, staff)
    data = _rows(token, ("Dr Ray", "+14155550111", ""), ("Dr Nobody", "", ""))
    response = client.post("/app/oncall", data=data)
    assert response.status_code == 422
    assert (
        'id="e-name_1"' in response.text
        and "Dr Nobody: give a phone, an email or both" in response.text
    )
    assert 'value="Dr Nobody"' in response.text  # what was typed is kept
    assert oncall_list(session, clinic) == []
