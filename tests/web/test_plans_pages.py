"""Admins review each plan version and record a clinician's sign-off; staff see which
plans are not signed off when they enrol."""

from __future__ import annotations

from sqlmodel import select

from service.db.models import AuditLog, PlanSignoff
from service.domain import Role
from tests.web.conftest import PASSWORD, csrf_from, login


def test_an_admin_reads_the_review_document_of_a_plan(client, factory) -> None:
    login(client, factory.user(None, role=Role.ADMIN, password=PASSWORD))
    listing = client.get("/app/plans")
    assert listing.status_code == 200
    assert "Dermal filler aftercare" in listing.text and "Not signed off" in listing.text
    document = client.get("/app/plans/dermal_filler/review")
    assert document.status_code == 200
    assert "Dermal filler aftercare: clinical review" in document.text
    assert "script-src" not in document.headers["content-security-policy"]
    assert "default-src 'none'" in document.headers["content-security-policy"]
    assert 'class="route-clinic_now">clinic_now' in document.text  # skin colour


def test_an_admin_records_a_signoff_that_is_audited(client, factory, session) -> None:
    login(client, factory.user(None, role=Role.ADMIN, password=PASSWORD))
    token = csrf_from(client.get("/app/plans").text)
    form = {"plan": "botox", "name": "Dr Rosa Vidal", "role": "Medical director, MD"}
    done = client.post(
        "/app/plans/signoff", data={**form, "csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/app/plans?done=signedoff"
    row = session.exec(select(PlanSignoff)).one()
    assert (row.plan_key, row.plan_version, row.signer_name) == ("botox", 3, "Dr Rosa Vidal")
    audit = session.exec(select(AuditLog).where(AuditLog.action == "plan.signoff")).one()
    assert audit.actor and audit.actor.startswith("user:")
    listing = client.get("/app/plans?done=signedoff").text
    assert "Sign-off recorded" in listing and "Dr Rosa Vidal (Medical director, MD)" in listing


def test_a_signoff_without_a_role_is_refused_naming_the_field(client, factory, session) -> None:
    login(client, factory.user(None, role=Role.ADMIN, password=PASSWORD))
    token = csrf_from(client.get("/app/plans").text)
    form = {"plan": "botox", "name": "Dr Rosa Vidal", "role": "", "csrf_token": token}
    refused = client.post("/app/plans/signoff", data=form)
    assert refused.status_code == 422
    assert "role is required" in refused.text
    assert session.exec(select(PlanSignoff)).first() is None


def test_staff_cannot_open_the_plans_pages(client, staff) -> None:
    login(client, staff)
    assert client.get("/app/plans").status_code == 403
    assert client.get("/app/plans/botox/review").status_code == 403


def test_the_enrol_form_says_which_plans_nobody_has_signed_off(client, staff) -> None:
    login(client, staff)
    page = client.get("/app/enrol").text
    assert "Botox aftercare (not signed off)" in page
    assert "Not yet signed off by a clinician" in page
