"""SMS through the official twilio SDK, with a timeout and classified errors.

The SDK's HTTP client is ours (`twilio_http`: urllib3, a timeout on every request,
TWILIO_API_BASE_URL to point the real SDK at a local server, the fake or Prism).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, HTTPError

from service.channels.base import DeliveryError, OutboundMessage, Receipt
from service.channels.twilio_http import TwilioHttp
from service.channels.twilio_status import describe_error
from service.domain import Channel

if TYPE_CHECKING:
    from service.config import Settings

PERMANENT_CODES = frozenset({21211, 21408, 21602, 21603, 21606, 21610, 21612, 21614, 21617})
RECONCILE_SLACK = timedelta(minutes=5)  # clock skew between us and the provider


class TwilioSmsAdapter:
    name = "twilio"
    can_find_sent = True  # Twilio lists what it sent: in-doubt sends are reconciled

    def __init__(self, *, settings: Settings, channel: Channel = Channel.SMS) -> None:
        assert settings.twilio_auth_token is not None, "TWILIO_AUTH_TOKEN is required"
        self.settings = settings
        self.http = TwilioHttp(
            timeout=settings.twilio_timeout_seconds,
            base_url=settings.twilio_api_base_url,
            pool_size=max(10, settings.dispatch_concurrency * 2),
        )
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=self.http,
        )
        self.client.messages  # noqa: B018 - the SDK imports its API modules on first use

    def send(self, message: OutboundMessage) -> Receipt:
        try:
            sent = self.client.messages.create(**self._params(message))
        except TwilioRestException as exc:
            raise self._rest_error(exc) from exc
        except (HTTPError, TwilioException) as exc:
            raise _transport_error(exc) from exc
        return Receipt(provider=self.name, provider_id=str(sent.sid))

    def find_sent(self, *, to: str, since: datetime, body: str, message_id: int) -> Receipt | None:
        """For an in-doubt send: our message among those sent to `to` since `since`."""
        return self.find_sent_many(to=to, since=since, wanted={message_id: body}).get(message_id)

    def find_sent_many(
        self, *, to: str, since: datetime, wanted: Mapping[int, str]
    ) -> dict[int, Receipt]:
        """Several in-doubt sends to one recipient, in one listing: message id -> the
        receipt of each found. Newest first, each listed message matching one of ours
        by its text (two of ours with the same text get two different messages).

        Filters on To only, not DateSent: a message Twilio accepted but has not handed
        to the carrier yet has no DateSent, and missing it would mean a duplicate text.
        """
        oldest = since - RECONCILE_SLACK
        looking = {message_id: body.strip() for message_id, body in wanted.items()}
        found: dict[int, Receipt] = {}
        try:
            for listed in self.client.messages.stream(to=to, page_size=50):
                created = listed.date_created
                if not looking or (created is not None and created < oldest):
                    break
                text = (listed.body or "").strip()
                match = next((mid for mid, body in looking.items() if body == text), None)
                if match is not None:
                    del looking[match]
                    found[match] = Receipt(provider=self.name, provider_id=str(listed.sid))
        except TwilioRestException as exc:
            raise self._rest_error(exc) from exc
        except (HTTPError, TwilioException) as exc:
            raise _transport_error(exc) from exc
        return found

    def _params(self, message: OutboundMessage) -> dict[str, Any]:
        callback = message.status_callback or (
            f"{self.settings.public_base_url}/webhooks/twilio/status?mid={message.message_id}"
        )
        params: dict[str, Any] = {"to": message.to, "body": message.body}
        params["status_callback"] = callback
        service_sid = message.messaging_service_sid or self.settings.twilio_messaging_service_sid
        if message.from_ or not service_sid:
            params["from_"] = message.from_ or self.settings.twilio_from
        else:
            params["messaging_service_sid"] = service_sid
        return params

    def _rest_error(self, exc: TwilioRestException) -> DeliveryError:
        code = int(exc.code) if isinstance(exc.code, int) else None
        reason = describe_error(code) if code else f"Twilio HTTP {exc.status}"
        pcode = str(code or exc.status)
        if exc.status == 429 or code == 20429:
            return DeliveryError(
                reason, permanent=False, retry_after=self._retry_after(), provider_code=pcode
            )
        if exc.status >= 500:
            return DeliveryError(reason, permanent=False, in_doubt=True, provider_code=pcode)
        if code in PERMANENT_CODES or exc.status not in (401, 403):
            return DeliveryError(
                reason, permanent=True, opted_out=code == 21610, not_mobile=code == 21614,
                provider_code=pcode,
            )  # fmt: skip
        # 401/403: our credentials or account, not this message; Twilio did nothing.
        return DeliveryError(reason, permanent=False, provider_code=pcode)

    def _retry_after(self) -> float | None:
        value = getattr(self.http.last, "headers", {}).get("Retry-After")
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None  # an HTTP date; the retry policy's own backoff applies


def _transport_error(exc: Exception) -> DeliveryError:
    """Connection refused, a DNS failure or no connection in time: the request never
    left. Anything else (no answer in time, a connection dropped) may have been sent."""
    if isinstance(exc, ConnectTimeoutError):  # NewConnectionError, NameResolutionError too
        return DeliveryError(f"cannot reach Twilio ({type(exc).__name__})", permanent=False)
    return DeliveryError(
        f"no answer from Twilio ({type(exc).__name__}); it may have sent the message",
        permanent=False,
        in_doubt=True,
    )
