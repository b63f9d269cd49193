"""Bodies are bounded per route, and callers are checked before a body is read.

The app is driven at the ASGI level with a body that streams in 1 MB chunks and counts
what was taken from it: a refused request reads nothing (or at most one chunk past the
route's limit), so a 300 MB POST cannot raise the server's memory.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import SecretStr

from service.api.app import create_app
from service.api.limits import limit_for
from service.domain import Role
from tests.factories import Factory

CHUNK = 1024 * 1024
SECRET = "inbound-secret-0123456789"


class Upload:
    """A request body of `size` bytes, streamed; `taken` counts the chunks read."""

    def __init__(self, size: int, chunk: bytes = b"x") -> None:
        self.left = size
        self.fill = chunk
        self.taken = 0

    async def receive(self) -> dict[str, Any]:
        if self.left <= 0:
            await asyncio.sleep(3600)  # the client waits for the answer
        size = min(CHUNK, self.left)
        self.left -= size
        self.taken += 1
        return {"type": "http.request", "body": self.fill * size, "more_body": self.left > 0}


def call(app, path: str, upload: Upload, headers: dict[str, str]) -> tuple[int, dict]:  # type: ignore[no-untyped-def,type-arg]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "https", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("testserver", 443), "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(app(scope, upload.receive, send), timeout=30)

    asyncio.run(run())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body) if body.startswith(b"{") else {}


@pytest.fixture
def app(settings, engine):  # type: ignore[no-untyped-def]
    settings = settings.model_copy(update={"email_inbound_secret": SecretStr(SECRET)})
    return create_app(settings, engine=engine)


def test_a_declared_300_mb_post_to_the_sms_webhook_is_413_before_reading(app):
    upload = Upload(300 * CHUNK)
    status, _ = call(app, "/webhooks/twilio/sms", upload,
                     {"content-length": str(300 * CHUNK),
                      "content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert status == 413
    assert upload.taken == 0


def test_a_chunked_300_mb_post_to_the_sms_webhook_stops_at_its_limit(app):
    upload = Upload(300 * CHUNK)
    status, body = call(app, "/webhooks/twilio/sms", upload,
                        {"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert status == 413 and "body" in body["detail"]
    assert upload.taken * CHUNK <= limit_for("/webhooks/twilio/sms") + CHUNK


def test_the_email_webhook_without_its_secret_reads_nothing(app):
    upload = Upload(674 * CHUNK)
    status, _ = call(app, "/webhooks/email/inbound", upload, {"content-type": "message/rfc822"})
    assert status == 403
    assert upload.taken == 0


def test_the_email_webhook_with_its_secret_stops_past_its_limit(app):
    upload = Upload(300 * CHUNK)
    status, _ = call(app, "/webhooks/email/inbound", upload,
                     {"content-type": "message/rfc822", "x-aftercare-secret": SECRET})  # fmt: skip
    assert status == 413
    assert upload.taken * CHUNK <= limit_for("/webhooks/email/inbound") + CHUNK


def test_malformed_json_without_a_key_is_401_and_never_read(app):
    upload = Upload(839 * CHUNK, chunk=b"{")
    status, body = call(app, "/api/v1/patients", upload, {"content-type": "application/json"})
    assert status == 401 and "API key" in body["detail"]
    assert upload.taken == 0


def test_malformed_json_with_a_wrong_key_is_401_and_never_read(app):
    upload = Upload(10 * CHUNK, chunk=b"{")
    status, _ = call(app, "/api/v1/patients", upload,
                     {"content-type": "application/json",
                      "authorization": "Bearer ac_deadbeef_not-a-key"})  # fmt: skip
    assert status == 401
    assert upload.taken == 0


def test_a_large_body_with_a_good_key_stops_at_the_api_limit(app, factory: Factory):
    key = factory.api_key(factory.user(factory.clinic(), Role.STAFF))
    upload = Upload(100 * CHUNK, chunk=b" ")
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    status, _ = call(app, "/api/v1/patients", upload, headers)
    assert status == 413
    assert upload.taken * CHUNK <= limit_for("/api/v1/patients") + CHUNK


def test_an_ordinary_api_call_still_works(app, factory: Factory):
    clinic = factory.clinic()
    key = factory.api_key(factory.user(clinic, Role.STAFF))
    payload = json.dumps({"first_name": "Ana", "phone": "+14155550188"}).encode()

    class Small(Upload):
        async def receive(self) -> dict[str, Any]:
            self.taken += 1
            return {"type": "http.request", "body": payload, "more_body": False}

    status, body = call(app, "/api/v1/patients", Small(0),
                        {"content-type": "application/json", "authorization": f"Bearer {key}",
                         "content-length": str(len(payload))})  # fmt: skip
    assert status == 201, body
    assert body["first_name"] == "Ana"
