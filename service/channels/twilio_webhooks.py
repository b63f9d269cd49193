"""Verifying Twilio's webhook signatures (X-Twilio-Signature) with the SDK's validator,
and making them: `post_simulated_sms` sends a running service the text Twilio would.

Behind a proxy or load balancer the URL the app sees is not the one Twilio signed, so
the URL is always rebuilt from PUBLIC_BASE_URL plus the request path and query.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from twilio.request_validator import RequestValidator


def public_url(public_base_url: str, path: str, query: str = "") -> str:
    url = public_base_url.rstrip("/") + path
    return f"{url}?{query}" if query else url


def signature_is_valid(
    *, auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def sign(*, auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio would send; used by the local fake Twilio server and tests."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


class SimulationError(RuntimeError):
    """A simulated text did not get through; the message says what the service answered."""


INBOUND_SMS_PATH = "/webhooks/twilio/sms"


def simulated_inbound_sms(*, sender: str, to: str, body: str) -> dict[str, str]:
    """The form Twilio posts for an inbound text (the fields our webhook reads)."""
    return {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }


def post_simulated_sms(
    *, base_url: str, auth_token: str, sender: str, to: str, body: str, timeout: float = 15.0
) -> str:
    """Post a correctly signed inbound text to a running service, as Twilio would; returns
    its MessageSid. The URL signed is the one posted to, `base_url` + the webhook path."""
    params = simulated_inbound_sms(sender=sender, to=to, body=body)
    url = public_url(base_url, INBOUND_SMS_PATH)
    request = urllib.request.Request(  # noqa: S310 (the URL is the service's own base URL)
        url,
        data=urllib.parse.urlencode(params).encode(),
        headers={"X-Twilio-Signature": sign(auth_token=auth_token, url=url, params=params)},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        raise SimulationError(f"{url} answered {exc.code}: {_detail(exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SimulationError(f"cannot reach {url}: {reason} (is the service running?)") from None
    return params["MessageSid"]


def _detail(error: urllib.error.HTTPError) -> str:
    text = error.read().decode("utf-8", "replace")
    try:
        return str(json.loads(text).get("detail", text))
    except (ValueError, AttributeError):
        return text[:200]
