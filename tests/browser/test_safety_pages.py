"""Pages of the safety net in a real browser: the unsubscribe page a patient opens from
an email (their language, their clinic, a readable bad link), and what staff see on the
patient page when texts stop (STOP, a landline) and when a plan is resumed."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from service.db.engine import make_engine
from service.db.models import Patient
from service.unsubscribe import make_token
from tests.browser.conftest import Live, shot, sign_in
from tests.browser.test_web_flows import post_sms
from tests.factories import Factory

pytestmark = pytest.mark.browser


def a_patient(live: Live, *, enrolled: bool = False, **values: object) -> int:
    """A patient of clinic A (phone and email, consent to both), optionally enrolled."""
    now = datetime.now(UTC)
    engine = make_engine(live.settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            phone = f"+1415555{uuid.uuid4().int % 10_000:04d}"
            fields = {
                "clinic_id": live.clinic_a.id,
                "first_name": "Rosa",
                "phone": phone,
                "email": "rosa@example.com",
                "timezone": "America/New_York",
                "sms_consent_at": now,
                "email_consent_at": now,
                **values,
            }
            patient = Patient(**fields)  # type: ignore[arg-type]
            session.add(patient)
            session.flush()
            session.commit()
            if enrolled:
                Factory(session).enrol(
                    live.clinic_a, patient, now=now, procedure_at=now - timedelta(days=2)
                )
            return patient.id  # type: ignore[return-value]
    finally:
        engine.dispose()


def test_the_unsubscribe_page_speaks_the_patients_language_and_names_the_clinic(
    page: Page, live: Live
) -> None:
    patient_id = a_patient(live, language="es")
    token = make_token(
        secret_key=live.settings.secret_key.get_secret_value(), patient_id=patient_id
    )
    page.goto(f"{live.url}/unsubscribe/{token}")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("header")).to_contain_text("Lakeside Aesthetics")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "¿Dejar de recibir correos de cuidados?"
    )
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # the app's CSS
    shot(page, "10-unsubscribe-ask-es")
    page.get_by_role("button", name="Darme de baja de los correos").click()
    expect(page.get_by_role("status")).to_have_text("Se ha dado de baja")
    expect(page.locator("main")).to_contain_text("llame ya al 911")
    shot(page, "11-unsubscribe-done-es")


def test_a_bad_unsubscribe_link_gets_a_readable_page(page: Page, live: Live) -> None:
    response = page.goto(f"{live.url}/unsubscribe/not-a-real-token")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    expect(page.get_by_role("heading", name="Este enlace no funciona")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text('"detail"')
    shot(page, "12-unsubscribe-bad-link")


def test_stop_shows_that_red_flags_go_by_email_and_start_brings_texts_back(
    page: Page, live: Live
) -> None:
    patient_id = a_patient(live, enrolled=True, first_name="Sol")
    engine = make_engine(live.settings)
    with Session(engine) as session:
        phone = session.get(Patient, patient_id).phone  # type: ignore[union-attr]
    engine.dispose()
    assert post_sms(live, sender=phone, body="STOP").status_code == 200
    sign_in(page, live, live.staff_a)
    page.goto(f"{live.url}/app/patients/{patient_id}")
    notice = page.locator("#sms-opted-out")
    expect(notice).to_contain_text("no text messages will be sent")
    expect(notice).to_contain_text("Red-flag reminders and safety messages go by email instead.")
    expect(
        page.locator(".timeline li.message").filter(has_text="texts stopped").first
    ).to_be_attached()
    shot(page, "13-patient-after-stop")
    assert post_sms(live, sender=phone, body="START").status_code == 200
    page.reload()
    expect(page.locator("#sms-opted-out")).to_have_count(0)
    expect(page.locator(".badge.active").first).to_be_visible()
    shot(page, "14-patient-after-start")


def test_a_number_that_cannot_take_texts_is_explained_on_the_patient_page(
    page: Page, live: Live
) -> None:
    patient_id = a_patient(
        live,
        phone_can_sms=False,
        sms_unreachable_at=datetime.now(UTC),
        email=None,
        email_consent_at=None,
        sms_unreachable_reason="The number is a landline or its carrier "
        "cannot receive texts (Twilio 30006)",
    )
    sign_in(page, live, live.staff_a)
    page.goto(f"{live.url}/app/patients/{patient_id}")
    notice = page.locator("#sms-unreachable")
    expect(notice).to_contain_text("The number is a landline")
    expect(notice).to_contain_text("red-flag reminders cannot reach this patient. Phone them.")
    expect(page.get_by_text("cannot take texts", exact=True)).to_be_visible()
    shot(page, "15-patient-landline")


def test_staff_resume_a_cancelled_plan_from_the_patient_page(page: Page, live: Live) -> None:
    patient_id = a_patient(live, enrolled=True, first_name="Ines")
    sign_in(page, live, live.staff_a)
    page.goto(f"{live.url}/app/patients/{patient_id}")
    page.get_by_role("link", name="Cancel this plan").click()
    page.get_by_label("Why cancel?").fill("booked by mistake")
    page.get_by_role("button", name="Yes, cancel the plan").click()
    expect(page.get_by_role("status").first).to_contain_text("Enrolment cancelled")
    page.get_by_role("button", name="Resume plan").click()
    expect(page.get_by_role("status").first).to_contain_text("Enrolment resumed.")
    expect(page.locator(".card .badge.active")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/app/patients/{patient_id}"))
    shot(page, "16-plan-resumed")
