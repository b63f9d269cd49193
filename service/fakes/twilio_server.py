"""A local fake of the Twilio REST API (the Messages resource) for tests and benchmarks.

The real twilio SDK talks to it through TWILIO_API_BASE_URL: create, fetch and list
Messages (To / From / DateSent filters, paging) with Twilio's JSON shapes and error
bodies, HTTP Basic auth with the account SID and token, MMS media (`add_media`: the
media URL redirects to storage that refuses credentials, as Twilio's does), plus a small
control API under `/_fake/` (config, stats, reset) so tests in other processes can drive
and count it.
Faults and callbacks live in `twilio_state.FakeTwilio`.

Run: `python -m service.fakes.twilio_server --port 8765`; in-process: `FakeTwilioServer`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

from service.fakes.twilio_state import MAGIC_ERRORS, FakeTwilio, public

_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages(?:/(?P<sid>\w+))?\.json$")
_MEDIA = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages/\w+/Media/(?P<media>\w+)$")
# A 1x1 PNG: what an MMS photo is in tests.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
TEST_ACCOUNT_SID = "AC" + "0" * 31 + "1"
TEST_AUTH_TOKEN = "fake-twilio-auth-token"  # noqa: S105 (a fake's well-known test token)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK's requests session reuses sockets
    disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (~40 ms)
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the fake serves thousands of requests per test

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/_fake/stats":
            return self._json(200, self.server.fake.stats())
        if url.path == "/_fake/messages":  # each accepted message's To and creation instant
            return self._json(200, self.server.fake.accepted_log())
        if _MEDIA.match(url.path) or url.path.startswith("/_fake/media/"):
            return self._media(url.path)
        match = self._authorised(url.path)
        if match is None:
            return None
        if match["sid"]:
            found = self.server.fake.messages.get(match["sid"])
            if found is None:
                return self._error(404, 20404, "The requested resource was not found")
            return self._json(200, public(found))
        return self._json(200, self._page(url.path, dict(parse_qsl(url.query))))

    def do_POST(self) -> None:
        url = urlparse(self.path)
        form = self._form()
        if url.path == "/_fake/config":
            try:
                self.server.fake.configure(**json.loads(form.get("json", "{}")))
            except (ValueError, TypeError) as exc:
                return self._json(400, {"message": str(exc)})
            return self._json(200, self.server.fake.config)
        if url.path == "/_fake/reset":
            self.server.fake.reset()
            return self._json(200, {"reset": True})
        match = self._authorised(url.path)
        if match is None or match["sid"]:
            return None if match is None else self._error(405, 20004, "Method not allowed")
        self._create(form)

    def _media(self, path: str) -> None:
        """Twilio's media URL (Basic auth) redirects to storage that refuses credentials."""
        match = _MEDIA.match(path)
        if match is not None:
            if not self._credentials_ok(match["account"]):
                return self._error(401, 20003, "Authenticate")
            self.send_response(307)
            self.send_header("Location", f"/_fake/media/{match['media']}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if self.headers.get("Authorization"):
            return self._json(400, {"message": "Only one auth mechanism allowed"})
        found = self.server.media.get(path.rsplit("/", 1)[-1])
        if found is None:
            return self._error(404, 20404, "The requested resource was not found")
        kind, data = found
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)
        return None

    def _credentials_ok(self, account: str) -> bool:
        fake = self.server.fake
        expected = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
        return account == fake.account_sid and self.headers.get("Authorization") == (
            f"Basic {expected}"
        )

    def _create(self, form: dict[str, str]) -> None:
        fake = self.server.fake
        time.sleep(fake.config["latency"])
        fake.wait_while_held(form, self.server.stopping)
        problem = _invalid(form)
        if problem:
            return self._error(400, *problem)
        if not fake.within_rate(form):
            return self._error(429, 20429, "Too Many Requests: the sender's rate is exceeded")
        fault = fake.pick_fault()
        if fault and fault.get("accept"):
            fake.accept(form)  # the provider did the work; the answer gets lost
        if fault and fault.get("hang"):
            self.server.stopping.wait(fake.config["hang_seconds"])
            return self._error(504, 20500, "Gateway timeout")
        if fault:
            headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") else {}
            code = fault.get("code") or (20429 if fault["status"] == 429 else 20500)
            return self._error(int(fault["status"]), int(code), "Injected failure", headers)
        self._json(201, public(fake.accept(form)))

    def _page(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        size = int(query.get("PageSize", 50))
        number = int(query.get("Page", 0))
        found = self.server.fake.listing(query)
        chunk = found[number * size : (number + 1) * size]
        more = len(found) > (number + 1) * size
        base = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}
        return {
            "messages": [public(m) for m in chunk],
            "page": number,
            "page_size": size,
            "start": number * size,
            "end": number * size + max(len(chunk) - 1, 0),
            "uri": _uri(path, {**base, "Page": number}),
            "first_page_uri": _uri(path, {**base, "Page": 0}),
            "next_page_uri": _uri(path, {**base, "Page": number + 1}) if more else None,
            "previous_page_uri": _uri(path, {**base, "Page": number - 1}) if number else None,
        }

    def _authorised(self, path: str) -> re.Match[str] | None:
        match = _PATH.match(path)
        if match is None:
            self._error(404, 20404, "The requested resource was not found")
            return None
        if not self._credentials_ok(match["account"]):
            self._error(401, 20003, "Authenticate")
            return None
        return match

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return {"json": raw}
        return dict(parse_qsl(raw, keep_blank_values=True))

    def _error(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        self._json(status, body, headers)

    def _json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)  # a client that timed out has gone away


def _invalid(form: dict[str, str]) -> tuple[int, str] | None:
    """Validation Twilio does before accepting: the error code and message, if any."""
    to = form.get("To", "")
    if not to:
        return 21604, "A 'To' phone number is required."
    if to in MAGIC_ERRORS:
        return MAGIC_ERRORS[to]
    if not re.fullmatch(r"\+[1-9]\d{6,14}", to):
        return 21211, f"The 'To' number {to} is not a valid phone number."
    if not (form.get("From") or form.get("MessagingServiceSid")):
        return 21603, "A 'From' or 'MessagingServiceSid' parameter is required."
    if not form.get("Body") and not form.get("MediaUrl"):
        return 21602, "Message body is required."
    if len(form.get("Body", "")) > 1600:
        return 21617, "The concatenated message body exceeds the 1600 character limit."
    return None


def _uri(path: str, query: dict[str, object]) -> str:
    return path + "?" + urlencode(query)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # bursts of hundreds of connections from concurrent senders

    def __init__(self, address: tuple[str, int], fake: FakeTwilio) -> None:
        super().__init__(address, _Handler)
        self.fake = fake
        self.stopping = threading.Event()
        self.media: dict[str, tuple[str, bytes]] = {}  # media sid -> (content type, bytes)


class FakeTwilioServer:
    """The fake in a background thread: `with FakeTwilioServer() as twilio: twilio.url`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        account_sid: str = TEST_ACCOUNT_SID,
        auth_token: str = TEST_AUTH_TOKEN,
        seed: int | None = None,
    ) -> None:
        self.fake = FakeTwilio(account_sid=account_sid, auth_token=auth_token, seed=seed)
        self._server = _Server((host, port), self.fake)
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add_media(
        self, *, content_type: str = "image/png", data: bytes = PNG, message_sid: str = ""
    ) -> str:
        """Serve one media item as Twilio would; returns its MediaUrl."""
        media_sid = f"ME{uuid.uuid4().hex}"
        self._server.media[media_sid] = (content_type, data)
        message = message_sid or f"MM{uuid.uuid4().hex}"
        account = self.fake.account_sid
        return f"{self.url}/2010-04-01/Accounts/{account}/Messages/{message}/Media/{media_sid}"

    def start(self) -> FakeTwilioServer:
        serve = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        callbacks = [
            threading.Thread(target=self.fake.deliver_callbacks, args=(self._server.stopping,))
            for _ in range(4)
        ]
        self._threads = [serve, *callbacks]
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        for _ in range(len(self._threads) - 1):
            self.fake.callbacks.put(None)
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeTwilioServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local fake Twilio REST API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--account-sid", default=TEST_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=TEST_AUTH_TOKEN)
    parser.add_argument("--no-callbacks", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    server = FakeTwilioServer(
        host=args.host,
        port=args.port,
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        seed=args.seed,
    )
    server.fake.configure(callbacks=not args.no_callbacks)
    server.start()
    print(f"fake twilio listening on {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
