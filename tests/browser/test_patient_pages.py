"""The patient pages in a real browser, as a nurse uses them: the preview of what the
patient will read, the hold while an alert is open, cancelling a plan with the keyboard
only (confirmation and reason), accent-blind search on a phone, the enrol form's one
round of errors and its time-zone suggestions, and an unknown page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from service import alerts
from service.db.engine import make_engine
from service.db.models import Clinic
from service.domain import AlertSeverity
from tests.browser.conftest import Live, shot, sign_in
from tests.browser.test_safety_pages import a_patient

pytestmark = pytest.mark.browser


def _open_alert(live: Live, patient_id: int, summary: str) -> int:
    engine = make_engine(live.settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            clinic = session.get(Clinic, live.clinic_a.id)
            assert clinic is not None
            alert = alerts.open_alert(session, clinic=clinic, severity=AlertSeverity.CONCERN,
                                      kind="triage_concern", summary=summary,
                                      now=datetime.now(UTC), patient_id=patient_id)  # fmt: skip
            session.commit()
            return alert.id  # type: ignore[return-value]
    finally:
        engine.dispose()


def test_the_timeline_previews_what_the_patient_will_read_and_shows_the_hold(
    page: Page, live: Live
) -> None:
    patient_id = a_patient(live, enrolled=True, first_name="Greta")
    alert_id = _open_alert(live, patient_id, "Swelling getting worse")
    sign_in(page, live, live.staff_a)
    page.goto(f"{live.url}/app/patients/{patient_id}")
    banner = page.get_by_role("alert").filter(has_text="An alert is open for Greta")
    expect(banner).to_contain_text(f"on hold while alert {alert_id} is open")
    preview = page.locator(".timeline .preview").first
    expect(preview).to_be_visible()
    expect(preview).to_contain_text("Preview, not sent yet: what Greta would receive")
    expect(preview.locator("pre")).to_contain_text("Lakeside Aesthetics")
    held = page.locator(".timeline li.held").first
    expect(held.locator(".badge.hold")).to_have_text(f"on hold: alert {alert_id} open")
    expect(held.locator("h3")).to_contain_text(re.compile(r"^Day \d+: "))
    expect(page.locator("#timeline")).not_to_contain_text("red_flag_reminder")
    shot(page, "20-timeline-preview-and-hold")


def test_cancelling_a_plan_from_the_keyboard_asks_to_confirm_and_for_a_reason(
    page: Page, live: Live
) -> None:
    patient_id = a_patient(live, enrolled=True, first_name="Hana")
    sign_in(page, live, live.staff_a)
    page.goto(f"{live.url}/app/patients/{patient_id}")
    link = page.get_by_role("link", name="Cancel this plan")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cancel Botox aftercare for Hana")
    expect(page.locator("main")).to_contain_text("still to come will not be sent")
    page.get_by_role("button", name="Yes, cancel the plan").focus()
    page.keyboard.press("Enter")  # no reason yet: refused, nothing changes
    expect(page.locator("#error-summary")).to_contain_text("Say why the plan is cancelled")
    reason = page.get_by_label("Why cancel?")
    expect(reason).to_have_attribute("aria-invalid", "true")
    reason.focus()
    page.keyboard.type("Procedure postponed by the surgeon")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Yes, cancel the plan")).to_be_focused()
    shot(page, "21-cancel-confirmation")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/app/patients/{patient_id}\?done=cancelled"))
    expect(page.get_by_role("status").first).to_contain_text("Enrolment cancelled")
    expect(page.locator("#timeline")).to_contain_text(
        "Cancelled with the plan: Procedure postponed by the surgeon"
    )


def test_keeping_the_plan_changes_nothing(page: Page, live: Live) -> None:
    patient_id = a_patient(live, enrolled=True, first_name="Ivo")
    sign_in(page, live, live.staff_a)
    page.goto(f"{live.url}/app/enrollments/0/cancel".replace("/0/", "/999999/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    page.goto(f"{live.url}/app/patients/{patient_id}")
    page.get_by_role("link", name="Cancel this plan").click()
    page.get_by_role("link", name="No, keep the plan").click()
    expect(page.locator(".card .badge.active").first).to_be_visible()


def test_search_ignores_accents_and_reads_phone_formats_on_a_phone(browser, live: Live) -> None:  # type: ignore[no-untyped-def]
    a_patient(live, first_name="Lucía", last_name="Núñez", phone="+14155550931")
    a_patient(live, first_name="Lucas", last_name="Moreno")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page, live, live.staff_a)
        page.goto(f"{live.url}/app/patients")
        search = page.get_by_role("searchbox", name="Search")
        search.fill("nunez")
        search.press("Enter")
        rows = page.locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Lucía Núñez")
        expect(rows.first).to_contain_text("Texts and email")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"page is {width}px wide on a 390px screen"
        shot(page, "22-search-accents-phone")
        page.get_by_role("searchbox", name="Search").fill("(415) 555-0931")
        page.keyboard.press("Enter")
        expect(page.locator("tbody tr")).to_have_count(1)
        expect(page.locator("tbody tr").first).to_contain_text("Lucía")
    finally:
        context.close()


def test_the_enrol_form_names_every_problem_at_once_and_suggests_time_zones(
    page: Page, live: Live
) -> None:
    sign_in(page, live, live.staff_a)
    page.goto(f"{live.url}/app/enrol")
    expect(page.get_by_label("Text messages: the patient agreed")).not_to_be_checked()
    expect(page.get_by_label("Emails: the patient agreed")).not_to_be_checked()
    zones = page.evaluate("document.getElementById('f-timezone').list.options.length")
    assert zones > 300, zones
    page.get_by_label("Time zone").fill("Europe/Lon")
    page.get_by_label("Mobile phone").fill("07911 123456")
    page.get_by_role("button", name="Enrol").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Please fix")
    for field in ("first_name", "phone", "timezone", "plan", "procedure_at"):
        expect(page.locator(f"#e-{field}")).to_be_visible()
    expect(page.locator("#e-phone")).to_contain_text("choose its country")
    shot(page, "23-enrol-errors")
    page.get_by_label("First name").fill("Wendy")
    page.get_by_label("Phone number's country").select_option("GB")
    page.get_by_label("Time zone").fill("Europe/London")
    page.get_by_label("Text messages: the patient agreed").check()
    page.get_by_label("Aftercare plan").select_option("botox")
    ahead = (datetime.now() + timedelta(days=20)).strftime("%Y-%m-%dT10:00")
    page.get_by_label("Procedure date and time").fill(ahead)
    page.get_by_role("button", name="Enrol").click()
    page.wait_for_url(re.compile(r"/app/patients/\d+"))
    expect(page.get_by_role("link", name="+447911123456")).to_be_visible()


def test_an_unknown_page_is_a_styled_page_with_a_way_back(page: Page, live: Live) -> None:
    sign_in(page, live, live.staff_a)
    response = page.goto(f"{live.url}/app/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    page.get_by_role("link", name="Start page").click()
    expect(page).not_to_have_url(re.compile("no-such-page"))


def test_the_changed_pages_fit_a_phone_and_start_with_the_skip_link(browser, live: Live) -> None:  # type: ignore[no-untyped-def]
    patient_id = a_patient(live, enrolled=True, first_name="Xenia")
    _open_alert(live, patient_id, "Bruising spreading")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page, live, live.staff_a)
        page.goto(f"{live.url}/app/patients/{patient_id}")
        cancel = page.get_by_role("link", name="Cancel this plan").get_attribute("href")
        for path in (f"/app/patients/{patient_id}", cancel, "/app/enrol", "/app/nowhere"):
            page.goto(f"{live.url}{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width}px wide on a 390px screen"
            page.keyboard.press("Tab")
            expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        shot(page, "24-phone-not-found")
    finally:
        context.close()


def test_resolving_an_alert_takes_a_second_step_and_keeps_the_note(page: Page, live: Live) -> None:
    patient_id = a_patient(live, first_name="Yara")
    alert_id = _open_alert(live, patient_id, "Redness spreading on day 3")
    sign_in(page, live, live.staff_a)
    page.goto(f"{live.url}/app/alerts")
    card = page.locator(f"#alert-{alert_id}")
    expect(card.get_by_role("button", name=f"Resolve alert {alert_id}")).to_be_hidden()
    card.locator("summary", has_text="Resolve").focus()
    page.keyboard.press("Enter")
    card.get_by_label("What was done").fill("Seen in clinic, antibiotics started")
    card.get_by_role("button", name=f"Resolve alert {alert_id}").press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("Alert resolved")
    expect(page.locator("main")).to_contain_text(
        "Resolution note: Seen in clinic, antibiotics started"
    )
    page.goto(f"{live.url}/app/patients/{patient_id}")
    expect(page.locator(f"#alert-{alert_id}")).to_contain_text("Seen in clinic, antibiotics")
