"""The fake Twilio's state: accepted messages, per-recipient counts, faults, callbacks.

It counts messages per recipient (the "sent exactly once" ground truth), injects
faults, and posts signed status callbacks (sent -> delivered) to each StatusCallback.

Faults, all settable at runtime via `FakeTwilio.configure` or `POST /_fake/config`:
`latency` (seconds), `error_rate` with `error_status`/`error_code`/`retry_after`,
`accept_then_fail` (a 5xx after the message was accepted: the in-doubt case),
`callback_disorder` (that share of messages get "delivered" posted before "sent"),
`hang_rate`/`hang_seconds` (accept, then answer too late: a read timeout),
`fail_next` (a list of scripted errors, consumed first), `hold` (every create waits,
unanswered, until it is turned off again or `hang_seconds` pass: calls caught in flight).
`rates` ({sender: [per_second, burst]}, a sender being a From number or a
MessagingServiceSid) makes the fake enforce each sender's rate as a token bucket: a
create above it is answered 429 (20429) and not accepted, counted in `throttled`;
`rate_tolerance` seconds of network jitter are allowed for.
Twilio's magic test numbers
fail as Twilio's test credentials do (+15005550001 -> 21211, ...004 -> 21610,
...009 -> 21614, ...003 -> 21408); `undelivered` maps a To number to a carrier error.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import requests

from service.channels.twilio_webhooks import sign

MAGIC_ERRORS = {
    "+15005550001": (21211, "The 'To' number is not a valid phone number."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
DEFAULTS: dict[str, Any] = {
    "latency": 0.0,
    "error_rate": 0.0,
    "error_status": 500,
    "error_code": None,
    "retry_after": None,
    "accept_then_fail": 0.0,  # share of errors that happen after the message was accepted
    "hang_rate": 0.0,
    "hang_seconds": 30.0,
    "hold": False,
    "callbacks": True,
    "callback_delay": 0.0,
    # Share of messages whose callbacks are posted final status first ("delivered" before
    # "sent"), as Twilio's may arrive: the receiver must never move a message backwards.
    "callback_disorder": 0.0,
    "undelivered": {},  # To -> carrier error code (e.g. 30003)
    "fail_next": [],  # [{"status": 429, "code": 20429, "retry_after": 1, "accept": false}]
    "rates": {},  # sender (From or MessagingServiceSid) -> [per second, burst]
    # Seconds a call may arrive early on its sender's schedule: the dispatcher starts a
    # paced call within 0.1 s of its slot (service.dispatch.calls.SLOT_GRACE).
    "rate_tolerance": 0.1,
}


class FakeTwilio:
    """The fake's state: accepted messages, counters and fault settings (thread-safe)."""

    def __init__(self, *, account_sid: str, auth_token: str, seed: int | None = None) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.lock = threading.Lock()
        self.random = random.Random(seed)
        self.config: dict[str, Any] = json.loads(json.dumps(DEFAULTS))
        self.messages: dict[str, dict[str, Any]] = {}
        self.accepted: Counter[str] = Counter()
        self.requests = 0
        self.held: Counter[str] = Counter()  # To numbers of the creates waiting on `hold`
        self.throttled: Counter[str] = Counter()  # 429s for a sender's rate, by sender
        self._buckets: dict[str, tuple[float, float]] = {}  # sender -> (tokens, when)
        # Every create of a rate-limited sender: (sender, wall-clock instant, refused).
        self.attempts: list[tuple[str, float, bool, str]] = []
        self.callbacks: queue.Queue[tuple[str, dict[str, str]] | None] = queue.Queue()

    def configure(self, **changes: Any) -> None:
        unknown = set(changes) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown fake Twilio setting(s): {sorted(unknown)}")
        with self.lock:
            self.config.update(changes)

    def reset(self) -> None:
        with self.lock:
            self.config = json.loads(json.dumps(DEFAULTS))
            self.messages.clear()
            self.accepted.clear()
            self.throttled.clear()
            self._buckets.clear()
            self.attempts.clear()
            self.requests = 0

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "accepted": sum(self.accepted.values()),
                "by_to": dict(self.accepted),
                "held": sum(self.held.values()),
                "held_to": sorted(self.held.elements()),
                "throttled": sum(self.throttled.values()),
                "throttled_by_sender": dict(self.throttled),
            }

    def accepted_log(self) -> list[dict[str, str]]:
        """Every accepted message's sid, To and creation instant (ISO 8601, microseconds)."""
        with self.lock:
            found = list(self.messages.values())
        return [{"sid": m["sid"], "to": m["to"], "created": m["_created"].isoformat(),
                 "sender": m["from"] or m["messaging_service_sid"], "at": m["_at"]}
                for m in found]  # fmt: skip

    def within_rate(self, form: dict[str, str]) -> bool:
        """Whether the sender of this create has a token (taking it); counts a refusal."""
        sender = form.get("From") or form.get("MessagingServiceSid") or ""
        with self.lock:
            limit = self.config["rates"].get(sender)
            if limit is None:
                return True
            per_second, burst = float(limit[0]), float(limit[1])
            now = time.monotonic()
            tokens, when = self._buckets.get(sender, (burst, now))
            tokens = min(burst, tokens + (now - when) * per_second)
            refused = tokens < 1.0 - self.config["rate_tolerance"] * per_second
            self._buckets[sender] = (tokens if refused else tokens - 1.0, now)
            self.attempts.append((sender, time.time(), refused, form.get("To", "")))
            if refused:
                self.throttled[sender] += 1
            return not refused

    def wait_while_held(self, form: dict[str, str], stop: threading.Event) -> None:
        """A create waits here while `hold` is on (at most `hang_seconds`)."""
        if not self.config["hold"]:
            return
        to = form.get("To", "")
        with self.lock:
            self.held[to] += 1
        deadline = time.monotonic() + self.config["hang_seconds"]
        try:
            while self.config["hold"] and time.monotonic() < deadline and not stop.is_set():
                stop.wait(0.01)
        finally:
            with self.lock:
                self.held[to] -= 1
                self.held += Counter()  # drop the zero counts

    def pick_fault(self) -> dict[str, Any] | None:
        """The error this request gets, if any: scripted ones first, then random ones."""
        with self.lock:
            self.requests += 1
            cfg = self.config
            if cfg["fail_next"]:
                return dict(cfg["fail_next"].pop(0))
            roll = self.random.random()
            if roll < cfg["hang_rate"]:
                return {"hang": True, "accept": True}
            if roll < cfg["hang_rate"] + cfg["error_rate"]:
                accept = self.random.random() < cfg["accept_then_fail"]
                return {
                    "status": cfg["error_status"],
                    "code": cfg["error_code"],
                    "retry_after": cfg["retry_after"],
                    "accept": accept,
                }
        return None

    def accept(self, form: dict[str, str]) -> dict[str, Any]:
        now = datetime.now(UTC)
        sid = "SM" + uuid.uuid4().hex
        message = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form["To"],
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body", ""),
            "status": "queued",
            "num_segments": str(max(1, -(-len(form.get("Body", "")) // 153))),
            "num_media": "0",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "date_created": format_datetime(now, usegmt=True),
            "date_updated": format_datetime(now, usegmt=True),
            "date_sent": format_datetime(now, usegmt=True),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "_created": now,
            "_at": time.time(),  # the wall clock's instant, unscaled
        }
        with self.lock:
            self.messages[sid] = message
            self.accepted[form["To"]] += 1
            callbacks = self.config["callbacks"]
            error = self.config["undelivered"].get(message["to"])
            disorder = bool(self.config["callback_disorder"]) and (
                self.random.random() < self.config["callback_disorder"]
            )
        if callbacks and form.get("StatusCallback"):
            self._queue_callbacks(message, form["StatusCallback"], error, reverse=disorder)
        return message

    def _queue_callbacks(
        self, message: dict[str, Any], url: str, error: int | None, *, reverse: bool = False
    ) -> None:
        final = ("undelivered", str(error)) if error else ("delivered", None)
        order = [("sent", None), final]
        for status, code in reversed(order) if reverse else order:
            params = {
                "MessageSid": message["sid"],
                "SmsSid": message["sid"],
                "AccountSid": self.account_sid,
                "To": message["to"],
                "From": message["from"] or "",
                "MessageStatus": status,
                "SmsStatus": status,
                "ApiVersion": "2010-04-01",
            }
            if code:
                params["ErrorCode"] = code
            self.callbacks.put((url, params))

    def listing(self, query: dict[str, str]) -> list[dict[str, Any]]:
        with self.lock:
            found = list(self.messages.values())
        if "To" in query:
            found = [m for m in found if m["to"] == query["To"]]
        if "From" in query:
            found = [m for m in found if m["from"] == query["From"]]
        for key, test in (("DateSent>", _ge), ("DateSent<", _le), ("DateSent", _same_day)):
            if key in query:
                bound = _parse_date(query[key])
                found = [m for m in found if test(m["_created"], bound)]
        return sorted(found, key=lambda m: m["_created"], reverse=True)

    def deliver_callbacks(self, stop: threading.Event) -> None:
        """Post queued status callbacks, signed as Twilio signs them."""
        session = requests.Session()
        while not stop.is_set():
            item = self.callbacks.get()
            if item is None:
                return
            url, params = item
            time.sleep(self.config["callback_delay"])
            signature = sign(auth_token=self.auth_token, url=url, params=params)
            # Twilio does not retry a failed status callback either.
            with contextlib.suppress(requests.RequestException):
                session.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=5)


def _parse_date(text: str) -> datetime:
    text = text.strip()
    if len(text) == 10:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ge(value: datetime, bound: datetime) -> bool:
    return value.date() >= bound.date() if bound.time() == bound.min.time() else value >= bound


def _le(value: datetime, bound: datetime) -> bool:
    return value.date() <= bound.date() if bound.time() == bound.min.time() else value <= bound


def _same_day(value: datetime, bound: datetime) -> bool:
    return value.date() == bound.date()


def public(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if not key.startswith("_")}
