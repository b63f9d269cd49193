"""The clinic texts editor in a real browser: the live preview follows the typing with
the clinic's own name, a save the linter refuses says which message and why, and a
signed-off version is what new enrolments get. Desktop and phone widths, keyboard only
for the save."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from service.db.engine import make_engine
from service.db.models import User
from service.domain import Role
from tests.browser.conftest import PASSWORD, Live, shot, sign_in
from tests.factories import Factory

pytestmark = pytest.mark.browser
NEW_TEXT = (
    "{{ clinic_name }}: Day 1 from your nurse: a cold pack, 10 minutes at a time. "
    '{% include "_partials/emergency.sms.en.j2" %}'
)


@pytest.fixture(scope="module")
def admin(live: Live) -> User:
    engine = make_engine(live.settings)
    with Session(engine, expire_on_commit=False) as session:
        user = Factory(session).user(None, Role.ADMIN, email="admin@aftercare.test",
                                     password=PASSWORD)  # fmt: skip
    engine.dispose()
    return user


def open_editor(page: Page, live: Live) -> None:
    page.goto(f"{live.url}/app/content?clinic_id={live.clinic_a.id}")
    page.get_by_role("link", name="Texts of Thread lift aftercare").click()
    page.get_by_role("link", name=re.compile(r"^Edit Day 1 care.*Text \(SMS\), English$")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Text (SMS), English")


def test_the_preview_follows_the_typing_and_a_failing_text_is_refused(
    page: Page, live: Live, admin: User
) -> None:
    sign_in(page, live, admin)
    open_editor(page, live)
    preview = page.locator("#preview [data-preview=text]")
    expect(preview).to_contain_text("Lakeside Aesthetics: Day 1: a cold compress")
    page.evaluate("window.__notReloaded = true")

    page.get_by_role("textbox", name=re.compile(r"^Text")).fill(NEW_TEXT)
    expect(preview).to_contain_text("Lakeside Aesthetics: Day 1 from your nurse")
    expect(page.locator("#preview [data-preview=size]")).to_contain_text("1 segment(s)")
    textarea = page.locator("#f-text")
    textarea.fill("{{ clinic_name }}: Day 1: rest and keep your head up.")
    checks = page.locator("#preview [data-preview=checks]")
    expect(checks).to_contain_text("emergency line missing")
    textarea.fill("{{ clinic_name.__class__ }}")
    expect(page.locator("#preview [data-preview=problem]")).to_contain_text("cannot be read")
    assert page.evaluate("window.__notReloaded") is True  # all of it without a page load
    shot(page, "content-01-live-preview")

    textarea.fill("{{ clinic_name }}: Day 1: rest and keep your head up.")
    page.get_by_role("button", name="Save").click()
    errors = page.get_by_role("alert")
    expect(errors).to_contain_text("Not saved: 2 problems")
    expect(errors).to_contain_text(
        "Day 1 care - cold compress, pain relief, hands off (Text (SMS), English): emergency "
        "line missing"
    )
    expect(textarea).to_have_value("{{ clinic_name }}: Day 1: rest and keep your head up.")
    shot(page, "content-02-refused-save")


def test_a_saved_text_is_signed_off_from_the_keyboard(page: Page, live: Live, admin) -> None:
    sign_in(page, live, admin)
    open_editor(page, live)
    page.locator("#f-text").fill(NEW_TEXT)
    page.locator("#f-text").focus()
    page.keyboard.press("Tab")  # the note
    page.keyboard.type("Our nurse's wording")
    page.keyboard.press("Tab")  # Save
    expect(page.get_by_role("button", name="Save")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("new enrolments use it once")
    page.get_by_label("Clinician's name").fill("Dr Ana Ruiz")
    page.get_by_label("Role").fill("Medical director, MD")
    page.get_by_role("button", name="Record sign-off").click()
    expect(page.get_by_role("status").first).to_contain_text("Sign-off recorded")
    expect(page.get_by_text("the clinic's texts v1")).to_be_visible()
    expect(page.get_by_role("cell", name="Clinic's text")).to_have_count(1)


def test_the_editor_fits_a_phone(browser, live: Live, admin) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live, admin)
        open_editor(page, live)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
        box = page.locator("#f-text").bounding_box()
        assert box is not None and box["width"] > 250
        shot(page, "content-03-phone")
    finally:
        context.close()
