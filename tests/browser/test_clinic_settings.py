"""The clinic settings page in a real browser: a clinic admin changes quiet hours, the
acknowledgement window and the sender rate from the keyboard and sees the change in the
recent changes; a swapped window is named next to its field; the page fits a phone;
staff cannot open it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from service.db.engine import make_engine
from service.db.models import User
from service.domain import Role
from tests.browser.conftest import PASSWORD, Live, shot, sign_in
from tests.factories import Factory

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def boss(live: Live) -> Iterator[User]:
    """Clinic A's clinic admin."""
    engine = make_engine(live.settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield Factory(session).user(live.clinic_a, Role.CLINIC_ADMIN, name="Bea Boss",
                                        email="bea@lakeside.test", password=PASSWORD)  # fmt: skip
    finally:
        engine.dispose()


def test_a_clinic_admin_changes_settings_from_the_keyboard(page: Page, live: Live, boss) -> None:
    sign_in(page, live, boss)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Clinic settings: Lakeside Aesthetics"
    )
    page.get_by_label("Quiet hours start").fill("21:30")
    page.get_by_label("Acknowledge alerts within (minutes)").fill("10")
    rate = page.get_by_label("Sender rate")
    rate.fill("2")
    rate.press("Enter")  # submits the form
    expect(page.get_by_role("status")).to_contain_text("Settings saved")
    expect(page.get_by_label("Quiet hours start")).to_have_value("21:30")
    changes = page.locator("section", has=page.get_by_role("heading", name="Recent changes"))
    for words in ("Bea Boss", "Quiet hours start", "20:00", "21:30",
                  "Alert acknowledgement window (minutes)", "Sender rate"):  # fmt: skip
        expect(changes).to_contain_text(words)
    shot(page, "20-clinic-settings-saved")

    page.get_by_label("Quiet hours start").fill("08:00")
    page.get_by_label("Quiet hours end").fill("20:00")
    page.get_by_role("button", name="Save settings").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("are start and end swapped?")
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Quiet hours start")).to_be_focused()
    expect(page.get_by_label("Quiet hours start")).to_have_attribute("aria-invalid", "true")
    shot(page, "21-clinic-settings-refused")


def test_the_page_fits_a_phone(browser, live: Live, boss) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        phone = context.new_page()
        sign_in(phone, live, boss)
        phone.goto(f"{live.url}/app/settings")
        expect(phone.get_by_role("button", name="Save settings")).to_be_visible()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width}px"
        shot(phone, "22-clinic-settings-phone")
    finally:
        context.close()


def test_staff_cannot_open_it(page: Page, live: Live) -> None:
    sign_in(page, live, live.staff_a)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name=re.compile("^On-call"))).to_be_visible()
    expect(nav.get_by_role("link", name="Settings")).to_have_count(0)
    response = page.goto(f"{live.url}/app/settings")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_contain_text("Not allowed")
