"""Fixtures for the real-parts integration tests (shared with the dispatch tests).

- `fake_twilio`: the product's local fake Twilio REST server, in this process.
- `twilio_settings`: settings pointing the real twilio SDK at it.
- `smtp_server` / `smtp_settings`: a real aiosmtpd SMTP server collecting what it gets.
- `prism_url`: Prism serving Twilio's OpenAPI description (skipped without node/prism,
  a failure when CI=true).
- `serve_app(settings, engine)`: the app under uvicorn on a free port (a context
  manager), for callbacks and requests from other threads or processes.
- `backend` / `db` / `client` and `post_status`: the app on SQLite and on PostgreSQL,
  and a correctly signed Twilio status callback to it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.policy import default as default_policy
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from service.channels.twilio_webhooks import sign
from service.config import REPO_ROOT, Settings
from service.delivery_receipts import apply_pending
from service.fakes.twilio_server import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, FakeTwilioServer

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CONTRACT = REPO_ROOT / "tests" / "contracts" / "twilio" / "twilio_api_v2010.messages.json"
SENDER = "+15005550006"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, *, timeout: float, process: subprocess.Popen[Any] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


# --- Twilio ---------------------------------------------------------------------------


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer(seed=1234) as server:
        yield server


def settings_for_twilio(settings: Settings, base_url: str, **extra: object) -> Settings:
    update: dict[str, object] = {
        "sms_provider": "twilio",
        "twilio_account_sid": TEST_ACCOUNT_SID,
        "twilio_auth_token": SecretStr(TEST_AUTH_TOKEN),
        "twilio_from": SENDER,
        "twilio_api_base_url": base_url,
        "twilio_timeout_seconds": 2.0,
    }
    update.update(extra)
    return settings.model_copy(update=update)


@pytest.fixture
def twilio_settings(settings: Settings, fake_twilio: FakeTwilioServer) -> Settings:
    return settings_for_twilio(settings, fake_twilio.url)


@pytest.fixture(scope="session")
def prism_url() -> Iterator[str]:
    prism = REPO_ROOT / "node_modules" / ".bin" / "prism"
    missing = [
        what
        for what, ok in (
            ("node", shutil.which("node")),
            (f"prism ({prism}; run npm ci)", prism.exists()),
            (f"contract {CONTRACT}", CONTRACT.exists()),
        )
        if not ok
    ]
    if missing:
        message = "Prism contract tests need " + ", ".join(missing)
        if IN_CI:
            pytest.fail(message + " (CI=true: the contract test is required)")
        pytest.skip(message)
    port = free_port()
    command = [str(prism), "mock", str(CONTRACT), "--port", str(port), "--errors"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=90, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- SMTP -----------------------------------------------------------------------------


@dataclass
class SmtpSink:
    """An aiosmtpd handler that keeps what it accepts; `replies` scripts failures."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # e.g. "451 4.3.0 try later"
    rcpt_replies: list[str] = field(default_factory=list)  # e.g. "550 5.1.1 no such user"
    hang_after_data: float = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.replies:
            return self.replies.pop(0)
        if self.hang_after_data:
            time.sleep(self.hang_after_data)  # blocks the server's loop: a silent server
        message = message_from_bytes(envelope.original_content or envelope.content,
                                     policy=default_policy)  # fmt: skip
        self.received.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 2.0.0 OK queued"


@dataclass
class SmtpServer:
    host: str
    port: int
    sink: SmtpSink


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(host="127.0.0.1", port=port, sink=sink)
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    return settings.model_copy(
        update={
            "email_provider": "smtp",
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "smtp_starttls": False,
            "smtp_timeout_seconds": 2.0,
            "email_from": "Aftercare <care@clinic.example>",
        }
    )


# --- The app, live ----------------------------------------------------------------------


@dataclass
class LiveApp:
    url: str
    settings: Settings
    engine: Engine


@contextlib.contextmanager
def serve_app(settings: Settings, engine: Engine) -> Iterator[LiveApp]:
    """The app under uvicorn in a thread; PUBLIC_BASE_URL is its own address."""
    from service.api.app import create_app

    port = free_port()
    live_settings = settings.model_copy(
        update={"scheduler_enabled": False, "public_base_url": f"http://127.0.0.1:{port}"}
    )
    app = create_app(live_settings, engine=engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port, timeout=15)
    try:
        yield LiveApp(url=f"http://127.0.0.1:{port}", settings=live_settings, engine=engine)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- Signed status callbacks to the app, on SQLite and PostgreSQL -------------------------

PUBLIC = "https://aftercare.example"
SID = "SM" + "1" * 32


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, settings, engine):
    if request.param == "sqlite":
        return settings.model_copy(update={"public_base_url": PUBLIC}), engine
    pg_settings, pg_engine = (
        request.getfixturevalue("pg_settings"),
        request.getfixturevalue("pg_engine"),
    )
    return pg_settings.model_copy(update={"public_base_url": PUBLIC}), pg_engine


@pytest.fixture
def app_settings(backend):
    return backend[0].model_copy(update={"twilio_auth_token": SecretStr(TEST_AUTH_TOKEN)})


@pytest.fixture
def db(backend):
    return backend[1]


@pytest.fixture
def client(app_settings, db):
    from service.api.app import create_app

    with TestClient(create_app(app_settings, engine=db)) as client:
        yield client


def post_status(
    client,
    *,
    mid: int | None,
    status: str,
    sid: str = SID,
    error: str | None = None,
    url_base: str = PUBLIC,
    signature: str | None = None,
    apply: bool = True,
):
    """A signed status callback; then what it recorded is applied (unless `apply` is
    False), as a worker's receipts job would."""
    query = f"?mid={mid}" if mid is not None else ""
    params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
              "To": "+14155550123", "From": "+15005550006", "ApiVersion": "2010-04-01"}  # fmt: skip
    if error:
        params["ErrorCode"] = error
    path = f"/webhooks/twilio/status{query}"
    if signature is None:
        signature = sign(auth_token=TEST_AUTH_TOKEN, url=url_base + path, params=params)
    response = client.post(
        path,
        content=urlencode(params),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    if apply:  # as the workers' receipts job does moments later
        apply_pending(client.app.state.engine, now=datetime.now(UTC))
    return response
