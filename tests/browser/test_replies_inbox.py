"""The replies inbox in a real browser: a reply arrives without a reload (the navigation
counts it), is read and handled from the keyboard, answered from the conversation, and a
photo shows through the service."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from service.channels.twilio_webhooks import sign
from tests.browser.conftest import CLINIC_NUMBER, TWILIO_TOKEN, Live, shot, sign_in
from tests.browser.test_web_flows import enrol

pytestmark = pytest.mark.browser


def text_in(live: Live, *, sender: str, body: str, media: list[str] | None = None) -> None:
    """What Twilio would post for an inbound text or MMS, correctly signed."""
    url = f"{live.url}/webhooks/twilio/sms"
    params = {"MessageSid": f"SM{uuid.uuid4().hex}", "AccountSid": "AC" + "0" * 32,
              "From": sender, "To": CLINIC_NUMBER, "Body": body,
              "NumMedia": str(len(media or []))}  # fmt: skip
    params |= {f"MediaUrl{i}": link for i, link in enumerate(media or [])}
    signature = sign(auth_token=TWILIO_TOKEN, url=url, params=params)
    response = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert response.status_code == 200, response.text


def test_a_reply_is_read_handled_from_the_keyboard_and_answered(page: Page, live: Live) -> None:
    sign_in(page, live, live.staff_a)
    patient_id = enrol(page, live, first="Rosa", phone="+14155550161")
    page.goto(f"{live.url}/app/replies")
    nav = page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile("^Replies")
    )
    page.evaluate("window.__notReloaded = true")
    text_in(live, sender="+14155550161", body="is it normal that my cheek itches?")
    item = page.locator("#reply-list li").filter(has_text="my cheek itches")
    expect(item).to_be_visible(timeout=15_000)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    expect(nav).to_contain_text("1")
    expect(page).to_have_title(re.compile(r"^\(1\) Replies"))
    shot(page, "10-replies-inbox-new-reply")

    note = item.get_by_label("Note (optional)")
    note.focus()
    page.keyboard.type("itching is expected; told her")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("Reply marked handled.")
    expect(page.locator("#reply-list")).to_contain_text("No unread replies.")
    page.goto(f"{live.url}/app/replies?status=handled")
    expect(page.locator("#reply-list")).to_contain_text("itching is expected; told her")

    page.goto(f"{live.url}/app/patients/{patient_id}")
    thread = page.locator("#conversation")
    expect(thread).to_contain_text("my cheek itches")
    page.get_by_label("Your reply").fill("Itching is normal this week. Call us if a rash appears.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status").first).to_contain_text("Your reply is being sent now.")
    expect(thread).to_contain_text("Itching is normal this week.")
    expect(thread).to_contain_text("Ana Staff")
    shot(page, "11-conversation-staff-reply")


def test_a_photo_the_patient_sent_shows_through_the_service(page: Page, live: Live) -> None:
    sign_in(page, live, live.staff_a)
    enrol(page, live, first="Iris", phone="+14155550162")
    text_in(live, sender="+14155550162", body="", media=[live.twilio.add_media()])
    page.goto(f"{live.url}/app/replies")
    photo = page.locator("#reply-list img.photo").first
    expect(photo).to_be_visible()
    assert photo.get_attribute("src", timeout=5_000).startswith("/app/media/")  # type: ignore[union-attr]
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=photo.element_handle()
    )
    assert live.twilio.url not in page.content()
    shot(page, "12-replies-photo")
