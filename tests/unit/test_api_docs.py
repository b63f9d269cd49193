"""/docs and /redoc load everything from the service itself (they work offline)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app


@pytest.fixture
def client(settings, engine):
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


def asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(
        r"""url: ?['"]([^'"]+)['"]""", html
    )


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_name_no_other_host(client, page):
    response = client.get(page)
    assert response.status_code == 200
    urls = asset_urls(response.text)
    assert urls, "the page loads its assets from somewhere"
    assert all(url.startswith("/") for url in urls), urls
    assert "cdn." not in response.text and "fonts.googleapis" not in response.text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_the_docs_pages_load_is_served(client, page):
    for url in asset_urls(client.get(page).text):
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 1000, url


def test_an_unknown_docs_asset_is_404(client):
    assert client.get("/docs/assets/../../../etc/passwd").status_code == 404
    assert client.get("/docs/assets/core.py").status_code == 404
