"""Verifying Twilio's webhook signatures (X-Twilio-Signature) with the SDK's validator.

Behind a proxy or load balancer the URL the app sees is not the one Twilio signed, so
the URL is always rebuilt from PUBLIC_BASE_URL plus the request path and query.
"""

from __future__ import annotations

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
