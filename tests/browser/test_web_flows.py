"""The web app in a real browser: enrol, see the plan, an urgent reply arriving in the
inbox without a reload, acknowledging it; script in a name stays text; clinics apart."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from service.channels.twilio_webhooks import sign
from tests.browser.conftest import CLINIC_NUMBER, TWILIO_TOKEN, Live, shot, sign_in

pytestmark = pytest.mark.browser
XSS = "<script>alert(1)</script>"


def enrol(page: Page, live: Live, *, first: str, phone: str) -> int:
    page.goto(f"{live.url}/app/enrol")
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill("Tester")
    page.get_by_label("Mobile phone").fill(phone)
    page.get_by_label("Language").select_option("en")
    page.get_by_label("Text messages: the patient agreed").check()
    page.get_by_label("Aftercare plan").select_option("botox")
    page.get_by_label("Procedure date and time").fill("2026-12-01T10:00")
    page.get_by_role("button", name="Enrol").click()
    page.wait_for_url(re.compile(r"/app/patients/\d+"))
    return int(re.search(r"/app/patients/(\d+)", page.url).group(1))  # type: ignore[union-attr]


def post_sms(live: Live, *, sender: str, body: str) -> httpx.Response:
    """What Twilio would send for an inbound text, correctly signed."""
    url = f"{live.url}/webhooks/twilio/sms"
    params = {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": CLINIC_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    signature = sign(auth_token=TWILIO_TOKEN, url=url, params=params)
    return httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def test_enrol_then_an_urgent_reply_appears_without_reload_and_is_acknowledged(
    page: Page, live: Live
) -> None:
    sign_in(page, live, live.staff_a)
    patient_id = enrol(page, live, first="Dana", phone="+14155550142")
    expect(page.get_by_role("status").first).to_contain_text("Patient enrolled")
    expect(page.locator(".timeline li.message").first).to_be_visible()
    expect(page.get_by_text("botox", exact=False).first).to_be_visible()
    shot(page, "01-timeline-after-enrol")

    page.goto(f"{live.url}/app/alerts")
    expect(page.get_by_text("No open alerts.")).to_be_visible()
    page.evaluate("window.__notReloaded = true")
    response = post_sms(live, sender="+14155550142", body="my face is drooping and I can't breathe")
    assert response.status_code == 200, response.text
    urgent = page.locator("#alert-list li.urgent")
    expect(urgent).to_be_visible(timeout=15_000)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    expect(urgent).to_contain_text("my face is drooping")
    expect(page).to_have_title(re.compile(r"^\(1\) Alerts"))
    shot(page, "02-inbox-urgent-arrived")

    urgent.get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(page.get_by_role("status").first).to_contain_text("Alert acknowledged.")
    expect(page.locator("#alert-list li.urgent .badge.acknowledged")).to_be_visible()
    expect(page.locator("#alert-list li.urgent")).to_contain_text("Acknowledged by Ana Staff")
    shot(page, "03-inbox-acknowledged")

    page.goto(f"{live.url}/app/patients/{patient_id}")
    expect(page.locator(".timeline li.reply")).to_contain_text("urgent")
    expect(page.locator(".timeline li.alert")).to_contain_text("Acknowledged by Ana Staff")


def test_a_script_in_a_name_or_a_reply_never_runs(page: Page, live: Live) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, live, live.staff_a)
    patient_id = enrol(page, live, first=XSS, phone="+14155550166")
    expect(page.get_by_role("heading", level=1)).to_contain_text(XSS)
    post_sms(live, sender="+14155550166", body='<img src=x onerror="alert(2)"> pus and fever')
    page.goto(f"{live.url}/app/alerts")
    expect(page.locator("#alert-list")).to_contain_text("<img src=x")
    page.goto(f"{live.url}/app/patients?q=script")
    expect(page.get_by_role("link", name=XSS)).to_be_visible()
    page.goto(f"{live.url}/app/patients/{patient_id}")
    page.get_by_role("link", name="Printable record").click()
    expect(page.get_by_role("heading", name="Aftercare record")).to_be_visible()
    expect(page.locator("main")).to_contain_text(XSS)
    shot(page, "04-xss-shown-as-text")
    assert dialogs == []


def test_staff_of_one_clinic_cannot_open_anothers_patient(page: Page, live: Live) -> None:
    sign_in(page, live, live.staff_a)
    patient_id = enrol(page, live, first="Private", phone="+14155550177")
    page.context.clear_cookies()
    sign_in(page, live, live.staff_b)
    response = page.goto(f"{live.url}/app/patients/{patient_id}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.goto(f"{live.url}/app/patients")
    expect(page.get_by_text("Private")).to_have_count(0)
    shot(page, "05-other-clinic-not-found")


def test_operators_see_the_log_not_patients(page: Page, live: Live) -> None:
    sign_in(page, live, live.operator)
    expect(page).to_have_url(re.compile("/app/ops/messages"))
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Patients")
    shot(page, "06-operator-delivery-log")
    response = page.goto(f"{live.url}/app/patients")
    assert response is not None and response.status == 403
    page.goto(f"{live.url}/app/ops/charts")
    expect(page.locator("svg.chart").first).to_be_visible()
    shot(page, "07-operator-charts")


def test_the_timeline_is_usable_on_a_phone(browser, live: Live) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page, live, live.staff_a)
        enrol(page, live, first="Mobile", phone="+14155550188")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"page is {width}px wide on a 390px screen"
        shot(page, "08-phone-timeline")
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    finally:
        context.close()


def test_a_simulated_reply_from_the_patient_page_raises_an_alert(page: Page, live: Live) -> None:
    sign_in(page, live, live.staff_a)
    patient_id = enrol(page, live, first="Sim", phone="+14155550178")
    page.goto(f"{live.url}/app/patients/{patient_id}")
    page.get_by_label("Reply text").fill("my face is drooping and I can't smile")
    page.get_by_role("button", name="Send as the patient").click()
    page.wait_for_url(re.compile(rf"/app/patients/{patient_id}\?done=simulated"))
    expect(page.get_by_role("status").first).to_contain_text("Reply simulated")
    expect(page.locator(".timeline li.reply").first).to_contain_text("drooping")
    expect(page.locator(".timeline li.alert").first).to_contain_text("urgent")
    shot(page, "simulated-reply")
