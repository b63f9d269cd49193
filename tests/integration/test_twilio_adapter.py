"""The real twilio SDK against the local fake Twilio server: requests, errors, reconciliation."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from service.channels.base import DeliveryError, OutboundMessage, load_adapter
from service.channels.twilio_sms import TwilioSmsAdapter
from service.channels.twilio_webhooks import signature_is_valid
from service.domain import Channel
from service.fakes.twilio_server import TEST_AUTH_TOKEN
from tests.integration.conftest import free_port, settings_for_twilio, wait_for_port


def sms(
    message_id: int = 7, to: str = "+14155550123", body: str = "Day 1: cold compress"
) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, channel=Channel.SMS, to=to, body=body)


@pytest.fixture
def adapter(twilio_settings):
    return load_adapter(twilio_settings, Channel.SMS)


def test_the_registry_builds_the_twilio_adapter_from_settings(adapter):
    assert isinstance(adapter, TwilioSmsAdapter)
    assert adapter.http.timeout == 2.0  # the SDK has no timeout unless we give one


def test_it_sends_through_the_sdk_with_sender_and_a_status_callback_carrying_our_id(
    adapter, fake_twilio
):
    receipt = adapter.send(sms(message_id=41))

    stored = fake_twilio.fake.messages[receipt.provider_id]
    assert receipt.provider == "twilio" and receipt.provider_id.startswith("SM")
    assert stored["to"] == "+14155550123"
    assert stored["from"] == "+15005550006"
    assert stored["body"] == "Day 1: cold compress"
    assert fake_twilio.fake.stats()["by_to"] == {"+14155550123": 1}


def test_it_uses_the_messaging_service_when_no_sender_number_is_given(twilio_settings, fake_twilio):
    settings = twilio_settings.model_copy(
        update={"twilio_from": None, "twilio_messaging_service_sid": "MG" + "a" * 32}
    )
    receipt = load_adapter(settings, Channel.SMS).send(sms())
    stored = fake_twilio.fake.messages[receipt.provider_id]
    assert stored["messaging_service_sid"] == "MG" + "a" * 32 and stored["from"] is None


def test_a_clinic_sender_number_overrides_the_default(adapter, fake_twilio):
    message = OutboundMessage(1, Channel.SMS, "+14155550123", "hi", from_="+14155550999")
    receipt = adapter.send(message)
    assert fake_twilio.fake.messages[receipt.provider_id]["from"] == "+14155550999"


@pytest.mark.parametrize(
    ("to", "code", "flags"),
    [
        ("+15005550001", "21211", {}),
        ("+15005550003", "21408", {}),
        ("+15005550004", "21610", {"opted_out": True}),
        ("+15005550009", "21614", {"not_mobile": True}),
        ("12345", "21211", {}),
    ],
)
def test_invalid_recipients_fail_permanently_with_a_readable_reason(
    adapter, fake_twilio, to, code, flags
):
    with pytest.raises(DeliveryError) as caught:
        adapter.send(sms(to=to))
    error = caught.value
    assert error.permanent and not error.in_doubt
    assert error.provider_code == code
    assert error.opted_out is flags.get("opted_out", False)
    assert error.not_mobile is flags.get("not_mobile", False)
    assert "Twilio error" not in error.reason  # a sentence, not a bare code
    assert fake_twilio.fake.stats()["accepted"] == 0


def test_a_429_is_transient_not_processed_and_carries_retry_after(adapter, fake_twilio):
    fake_twilio.fake.configure(fail_next=[{"status": 429, "code": 20429, "retry_after": 7}])
    with pytest.raises(DeliveryError) as caught:
        adapter.send(sms())
    error = caught.value
    assert not error.permanent and not error.in_doubt
    assert error.retry_after == 7.0 and error.provider_code == "20429"
    assert fake_twilio.fake.stats()["accepted"] == 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_is_in_doubt(adapter, fake_twilio, status):
    fake_twilio.fake.configure(fail_next=[{"status": status, "accept": True}])
    with pytest.raises(DeliveryError) as caught:
        adapter.send(sms())
    assert caught.value.in_doubt and not caught.value.permanent


def test_a_read_timeout_after_the_provider_accepted_is_in_doubt_and_reconcilable(
    twilio_settings, fake_twilio
):
    adapter = load_adapter(
        twilio_settings.model_copy(update={"twilio_timeout_seconds": 0.3}), Channel.SMS
    )
    fake_twilio.fake.configure(fail_next=[{"hang": True, "accept": True}], hang_seconds=2)
    since = datetime.now(UTC)

    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        adapter.send(sms(body="Week 2: tingling is normal"))

    assert time.monotonic() - started < 1.5  # the timeout we set, not the server's hang
    assert caught.value.in_doubt
    found = adapter.find_sent(
        to="+14155550123", since=since, body="Week 2: tingling is normal", message_id=7
    )
    assert found is not None and found.provider_id in fake_twilio.fake.messages


def test_connection_refused_is_transient_and_surely_not_processed(settings):
    adapter = load_adapter(
        settings_for_twilio(settings, f"http://127.0.0.1:{free_port()}"), Channel.SMS
    )
    with pytest.raises(DeliveryError) as caught:
        adapter.send(sms())
    assert not caught.value.permanent and not caught.value.in_doubt


def test_find_sent_matches_the_body_within_the_window_only(adapter, fake_twilio):
    adapter.send(sms(to="+14155550123", body="other advice"))
    since = datetime.now(UTC)
    assert (
        adapter.find_sent(to="+14155550123", since=since, body="Day 1: cold compress", message_id=7)
        is None
    )

    receipt = adapter.send(sms(to="+14155550123"))
    adapter.send(sms(to="+14155550999"))  # same body, another patient
    found = adapter.find_sent(
        to="+14155550123", since=since, body="Day 1: cold compress", message_id=7
    )
    assert found == receipt
    later = since + timedelta(hours=1)
    assert (
        adapter.find_sent(to="+14155550123", since=later, body="Day 1: cold compress", message_id=7)
        is None
    )


def test_find_sent_pages_through_a_busy_number(adapter, fake_twilio):
    since = datetime.now(UTC)
    target = adapter.send(sms(body="the one"))
    for n in range(120):
        adapter.send(sms(body=f"filler {n}"))
    assert adapter.find_sent(to="+14155550123", since=since, body="the one", message_id=7) == target


def test_the_fake_lists_with_twilios_filters(adapter, fake_twilio):
    adapter.send(sms(to="+14155550123"))
    adapter.send(sms(to="+14155550124"))
    client = adapter.client
    today = datetime.now(UTC).date()
    assert len(client.messages.list(to="+14155550123")) == 1
    assert (
        len(client.messages.list(date_sent_after=datetime.combine(today, datetime.min.time()))) == 2
    )
    assert client.messages.list(to="+14155550123", date_sent_before=datetime(2000, 1, 1)) == []


class _Recorder(BaseHTTPRequestHandler):
    calls: list[tuple[str, dict[str, str], str | None]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        params = dict(parse_qsl(self.rfile.read(length).decode()))
        self.calls.append((self.path, params, self.headers.get("X-Twilio-Signature")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_fake_posts_signed_status_callbacks_in_order(twilio_settings, fake_twilio):
    _Recorder.calls = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{receiver.server_address[1]}"
    try:
        fake_twilio.fake.configure(undelivered={"+14155550124": 30003})
        adapter = load_adapter(
            twilio_settings.model_copy(update={"public_base_url": base}), Channel.SMS
        )
        adapter.send(sms(message_id=5))
        adapter.send(sms(message_id=6, to="+14155550124"))
        deadline = time.monotonic() + 5
        while len(_Recorder.calls) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        receiver.shutdown()
        receiver.server_close()

    by_id = {}
    for path, params, signature in _Recorder.calls:
        url = base + path
        assert signature_is_valid(
            auth_token=TEST_AUTH_TOKEN, url=url, params=params, signature=signature
        )
        assert urlsplit(path).path == "/webhooks/twilio/status"
        by_id.setdefault(urlsplit(path).query, []).append(
            (params["MessageStatus"], params.get("ErrorCode"))
        )
    assert sorted(by_id["mid=5"]) == [("delivered", None), ("sent", None)]
    assert sorted(by_id["mid=6"]) == [("sent", None), ("undelivered", "30003")]


def test_the_fake_runs_as_its_own_process_and_is_driven_over_http(settings):
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "service.fakes.twilio_server",
        "--port",
        str(port),
        "--no-callbacks",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=20, process=process)
        url = f"http://127.0.0.1:{port}"
        adapter = load_adapter(settings_for_twilio(settings, url), Channel.SMS)
        requests.post(f"{url}/_fake/config", json={"fail_next": [{"status": 503}]}, timeout=5)
        with pytest.raises(DeliveryError):
            adapter.send(sms())
        adapter.send(sms())
        adapter.send(sms(to="+14155550999"))
        stats = requests.get(f"{url}/_fake/stats", timeout=5).json()
        assert stats == {
            "requests": 3,
            "accepted": 2,
            "by_to": {"+14155550123": 1, "+14155550999": 1},
            "held": 0,
            "held_to": [],
            "throttled": 0,
            "throttled_by_sender": {},
        }
        assert (
            requests.post(f"{url}/_fake/config", json={"no_such": 1}, timeout=5).status_code == 400
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


class _Proxy(BaseHTTPRequestHandler):
    """A forward proxy that answers every create itself and remembers what it was asked."""

    seen: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        _Proxy.seen.append(self.path)
        body = b'{"sid": "SMproxied0000000000000000000001", "status": "queued"}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.mark.parametrize("no_proxy", [None, "127.0.0.1"])
def test_the_environments_proxy_and_no_proxy_apply_as_read_at_start_up(
    twilio_settings, fake_twilio, monkeypatch, no_proxy
):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Proxy.seen = []
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
    if no_proxy:
        monkeypatch.setenv("NO_PROXY", no_proxy)
    adapter = load_adapter(twilio_settings, Channel.SMS)
    try:
        monkeypatch.delenv("HTTP_PROXY")  # read once, when the adapter was built
        receipt = adapter.send(sms())
    finally:
        server.shutdown()
        server.server_close()
        adapter.http.close()
    if no_proxy:
        assert _Proxy.seen == [] and receipt.provider_id in fake_twilio.fake.messages
    else:
        assert receipt.provider_id == "SMproxied0000000000000000000001"
        account = twilio_settings.twilio_account_sid
        assert _Proxy.seen == [f"{fake_twilio.url}/2010-04-01/Accounts/{account}/Messages.json"]
