"""The clinic texts pages: the editor beside the plan's text, the live preview, a save the
linter refuses naming the message, and the clinical sign-off that puts a version in use."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest
from sqlmodel import col, select

from service.db.models import AuditLog, ClinicContentVersion
from service.db.types import utcnow
from service.domain import Role
from tests.web.conftest import PASSWORD, login

EDIT = "/app/content/thread_lift/edit"
MESSAGE = {"step": "day1_care", "channel": "sms", "language": "en"}
GOOD = (
    "{{ clinic_name }}: Day 1 from your nurse: a cold pack, 10 minutes at a time. "
    '{% include "_partials/emergency.sms.en.j2" %}'
)


@pytest.fixture
def admin(factory):  # type: ignore[no-untyped-def]
    return factory.user(None, role=Role.ADMIN, password=PASSWORD)


def _form(token: str, clinic_id: int, text: str, action: str = "save") -> dict[str, str]:
    return {"csrf_token": token, "clinic_id": str(clinic_id), "text": text, "action": action,
            **MESSAGE}  # fmt: skip


def test_the_editor_shows_the_plans_text_beside_the_clinics_with_its_preview(
    client, clinic, admin
) -> None:
    login(client, admin)
    listing = client.get(f"/app/content?clinic_id={clinic.id}")
    assert listing.status_code == 200 and "The plan's own texts" in unescape(listing.text)
    page = client.get(EDIT, params={**MESSAGE, "clinic_id": clinic.id})
    assert page.status_code == 200
    text = unescape(page.text)
    assert "The plan's text" in text and "The clinic's text" in text
    assert "{{ clinic_name }}: Day 1: a cold compress" in text  # the source
    assert "Lakeside Aesthetics: Day 1: a cold compress" in text  # rendered for the clinic
    assert "(415) 555-0100" in text  # the clinic's number as its patients dial it


def test_the_live_preview_renders_the_typed_text_for_the_clinic(client, clinic, admin) -> None:
    token = login(client, admin)
    shown = client.post("/app/content/thread_lift/preview", data=_form(token, clinic.id, GOOD))
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    body = shown.json()
    assert body["ok"] and body["text"].startswith("Lakeside Aesthetics: Day 1 from your nurse")
    assert body["segments"] == 1 and body["encoding"] == "GSM-7"
    assert body["checks"] == []
    typed = _form(token, clinic.id, "{{ clinic_name }}: rest.")
    short = client.post("/app/content/thread_lift/preview", data=typed).json()
    assert [c["message"][:22] for c in short["checks"]] == [
        "emergency line missing",
        "clinic number missing:",
    ]


def test_a_text_that_reaches_for_python_is_refused_not_run(client, clinic, admin) -> None:
    token = login(client, admin)
    evil = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    shown = client.post("/app/content/thread_lift/preview", data=_form(token, clinic.id, evil))
    assert shown.status_code == 200 and not shown.json()["ok"]
    assert "'__class__' cannot be read" in " ".join(shown.json()["problems"])
    refused = client.post(EDIT, data=_form(token, clinic.id, evil))
    assert refused.status_code == 422 and "cannot be read" in unescape(refused.text)


def test_a_refused_save_names_the_message_and_the_problem(client, clinic, admin, session) -> None:
    token = login(client, admin)
    typed = "{{ clinic_name }}: Day 1: rest. Call us on {{ clinic_phone }}."
    refused = client.post(EDIT, data=_form(token, clinic.id, typed))
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert "Not saved: 1 problem" in text
    assert (
        "Day 1 care - cold compress, pain relief, hands off (Text (SMS), English): emergency "
        "line missing: the text never gives {{ emergency_phone }}" in text
    )
    assert typed in text  # what was typed is kept
    assert session.exec(select(ClinicContentVersion)).first() is None


def test_a_saved_version_is_signed_off_and_audited(client, clinic, admin, session) -> None:
    token = login(client, admin)
    saved = client.post(EDIT, data=_form(token, clinic.id, GOOD), follow_redirects=True)
    assert saved.status_code == 200
    assert "Draft saved" in saved.text or "Saved as a new version" in saved.text
    assert "Clinical sign-off of version 1" in saved.text
    row = session.exec(select(ClinicContentVersion)).one()
    review = client.get(f"/app/content/thread_lift/v1/review?clinic_id={clinic.id}")
    assert review.status_code == 200 and "clinic's text" in unescape(review.text)
    signed = client.post("/app/content/thread_lift/signoff", follow_redirects=True, data={
        "csrf_token": token, "clinic_id": str(clinic.id), "version": "1", "sha256": row.sha256,
        "name": "Dr Ana Ruiz", "role": "Medical director, MD"})  # fmt: skip
    assert signed.status_code == 200 and "Sign-off recorded" in signed.text
    assert "the clinic's texts v1" in unescape(signed.text)
    query = select(AuditLog.action).where(col(AuditLog.action).startswith("content."))
    assert list(session.exec(query.order_by(col(AuditLog.id)))) == [
        "content.create", "content.signoff"]  # fmt: skip


def test_a_signoff_of_a_version_changed_meanwhile_is_refused(client, clinic, admin) -> None:
    token = login(client, admin)
    client.post(EDIT, data=_form(token, clinic.id, GOOD))
    stale = client.post("/app/content/thread_lift/signoff", data={
        "csrf_token": token, "clinic_id": str(clinic.id), "version": "1", "sha256": "0" * 64,
        "name": "Dr Ana Ruiz", "role": "MD"})  # fmt: skip
    assert stale.status_code == 409 and "changed after you opened it" in stale.text


def test_staff_cannot_open_or_use_the_texts_pages(client, clinic, staff) -> None:
    token = login(client, staff)
    assert client.get("/app/content").status_code == 403
    assert client.get(EDIT, params=MESSAGE).status_code == 403
    preview = client.post("/app/content/thread_lift/preview", data=_form(token, clinic.id, GOOD))
    assert preview.status_code == 403


def test_an_unknown_plan_or_message_is_a_404_page(client, clinic, admin) -> None:
    login(client, admin)
    assert client.get("/app/content/nope").status_code == 404
    missing = client.get(EDIT, params={**MESSAGE, "step": "day99"})
    assert missing.status_code == 404 and "no such message" in missing.text
    assert client.get("/app/content/thread_lift/v9/review").status_code == 404


def test_hostile_input_is_refused_by_name_never_a_server_error(client, clinic, admin) -> None:
    token = login(client, admin)
    nul = client.post(EDIT, data={**_form(token, clinic.id, "Hi\x00 {{ clinic_name }}"),
                                  "note": "a\x00b"})  # fmt: skip
    assert nul.status_code == 422 and "control characters (U+0000)" in nul.text
    assert client.get("/app/content/thread_lift/v99999999999/review").status_code == 404
    nowhere = {**_form(token, clinic.id, GOOD), "clinic_id": "99999999999"}
    assert client.post(EDIT, data=nowhere).status_code == 404  # never another clinic's


def test_a_clinic_admin_edits_its_own_clinic_and_never_another(
    client, factory, clinic, session
) -> None:
    other = factory.clinic(name="Hillside Clinic")
    own_admin = factory.user(clinic, role=Role.CLINIC_ADMIN, password=PASSWORD)
    token = login(client, own_admin)
    listing = unescape(client.get(f"/app/content?clinic_id={other.id}").text)
    assert "Message texts: Lakeside Aesthetics" in listing and "Hillside" not in listing
    assert '<a href="/app/content"' in listing  # in the navigation
    aimed = _form(token, other.id, GOOD)  # a crafted form naming another clinic
    assert client.post(EDIT, data=aimed, follow_redirects=False).status_code == 303
    row = session.exec(select(ClinicContentVersion)).one()
    assert row.clinic_id == clinic.id  # saved for the admin's own clinic, not the other


def test_the_patient_timeline_previews_the_clinics_signed_text(
    client, factory, clinic, admin, staff, session
) -> None:
    token = login(client, admin)
    client.post(EDIT, data=_form(token, clinic.id, GOOD))
    row = session.exec(select(ClinicContentVersion)).one()
    client.post("/app/content/thread_lift/signoff", data={
        "csrf_token": token, "clinic_id": str(clinic.id), "version": "1", "sha256": row.sha256,
        "name": "Dr Ana Ruiz", "role": "Medical director, MD"})  # fmt: skip
    now = utcnow()
    patient = factory.patient(clinic, sms_consent_at=now)
    factory.enrol(clinic, patient, procedure_at=now - timedelta(hours=2), now=now,
                  plan="thread_lift")  # fmt: skip
    login(client, staff)
    page = unescape(client.get(f"/app/patients/{patient.id}").text)
    assert "Lakeside Aesthetics: Day 1 from your nurse: a cold pack" in page
