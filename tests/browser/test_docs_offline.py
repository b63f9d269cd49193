"""Swagger UI and ReDoc render in a browser that can reach nothing but the service."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.browser.conftest import Live, shot

pytestmark = pytest.mark.browser


def offline(page: Page) -> list[str]:
    """Abort every request that leaves 127.0.0.1; return what was attempted, and what the
    page's Content-Security-Policy refused (other than ReDoc's decorative logo)."""
    attempted: list[str] = []

    def refused(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text and "cdn.redoc.ly" not in message.text:
            attempted.append(message.text)

    page.on("console", refused)

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    return attempted


def test_swagger_ui_renders_the_api_offline(page: Page, live: Live) -> None:
    attempted = offline(page)
    page.goto(f"{live.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Aftercare")
    expect(page.get_by_text("/api/v1/enrollments", exact=True).first).to_be_visible()
    shot(page, "docs-swagger-offline")
    assert attempted == []


def test_redoc_renders_the_api_offline(page: Page, live: Live) -> None:
    attempted = offline(page)
    page.goto(f"{live.url}/redoc")
    expect(page.locator("h1").first).to_contain_text("Aftercare")
    expect(page.get_by_text("/api/v1/enrollments").first).to_be_attached()
    shot(page, "docs-redoc-offline")
    assert attempted == []
