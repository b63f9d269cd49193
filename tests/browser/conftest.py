"""A live `aftercare serve` on a free port (SQLite file, scheduler off) and a headless
Debian chromium driven by Playwright. Without /usr/bin/chromium the tests skip, except
with CI=true, where they fail: the browser is part of the project's setup."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from service.config import REPO_ROOT, Settings, load_settings
from service.db import migrate
from service.db.engine import make_engine
from service.db.models import Clinic, User
from service.domain import Role
from service.fakes.twilio_server import TEST_ACCOUNT_SID, FakeTwilioServer
from tests.conftest import IN_CI
from tests.factories import Factory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
PASSWORD = "correct horse battery"
TWILIO_TOKEN = "browser-test-auth-token"
CLINIC_NUMBER = "+15005550006"


@dataclass(frozen=True)
class Live:
    url: str
    settings: Settings
    clinic_a: Clinic
    clinic_b: Clinic
    staff_a: User
    staff_b: User
    operator: User
    twilio: FakeTwilioServer  # serves MMS photos (and would take texts) like Twilio


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(settings: Settings) -> tuple[Clinic, Clinic, User, User, User]:
    engine = make_engine(settings)
    with Session(engine, expire_on_commit=False) as session:
        make = Factory(session)
        clinic_a = make.clinic(name="Lakeside Aesthetics", sms_from=CLINIC_NUMBER)
        clinic_b = make.clinic(name="Hillside Clinic")
        staff_a = make.user(
            clinic_a, email="ana@lakeside.test", name="Ana Staff", password=PASSWORD
        )
        staff_b = make.user(clinic_b, email="bo@hillside.test", name="Bo Staff", password=PASSWORD)
        operator = make.user(None, Role.OPERATOR, email="ops@aftercare.test", password=PASSWORD)
    engine.dispose()
    return clinic_a, clinic_b, staff_a, staff_b, operator


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    # Start-up (imports, migrations check, the triage warm-up) takes ~5 s on an idle
    # machine and over 30 s on a loaded one: the deadline is for a server that is stuck.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer(auth_token=TWILIO_TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, twilio: FakeTwilioServer) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("live")
    port = _free_port()
    env = {
        "DATABASE_URL": f"sqlite:///{folder}/aftercare.db",
        "SCHEDULER_ENABLED": "false",
        "SECRET_KEY": "browser-test-secret-key-0123456789",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,  # photos are fetched from the fake Twilio
        "TWILIO_API_BASE_URL": twilio.url,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
    }
    settings = load_settings(**{k.lower(): v for k, v in env.items()})
    migrate.upgrade(settings)
    seeded = _seed(settings)
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(settings.public_base_url, process, log)
        yield Live(settings.public_base_url, settings, *seeded, twilio=twilio)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if IN_CI:
            pytest.fail(message + " (CI=true: browser tests are required)")
        pytest.skip(message)
    if shutil.which("chromium") is None and not Path(CHROMIUM).is_file():
        pytest.skip("chromium not executable")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def shot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, live: Live, user: User) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live.url}/app/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/app/login" not in url)
