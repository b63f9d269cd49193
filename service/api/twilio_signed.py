"""A FastAPI dependency for Twilio webhooks: the form, only once its signature checks out.

The signature covers every field (blank ones included) and the URL Twilio called, which
behind a proxy is not the one we see: it is rebuilt from PUBLIC_BASE_URL.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request, status

from service.api.deps import SettingsDep, invalid
from service.channels.twilio_webhooks import public_url, signature_is_valid
from service.logs import kv

log = logging.getLogger(__name__)


async def _form(request: Request) -> dict[str, str]:
    # Parsed by hand: FastAPI's form parsing drops blank fields the signature covers.
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("body", "not UTF-8 form data") from None
    return dict(parse_qsl(text, keep_blank_values=True))


async def signed_twilio_form(  # no I/O: async spares each webhook a thread hop
    request: Request,
    params: Annotated[dict[str, str], Depends(_form)],
    settings: SettingsDep,
) -> dict[str, str]:
    url = public_url(settings.public_base_url, request.url.path, request.url.query)
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    if not token and settings.environment != "production":
        # Nothing can be verified, so nothing is accepted; outside production say why.
        log.warning(kv("webhook.no_auth_token", path=request.url.path))
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "TWILIO_AUTH_TOKEN is not set: this service cannot verify Twilio's signature, so "
            "it refuses every Twilio webhook (set it, also for `aftercare simulate reply`)",
        )
    signature = request.headers.get("X-Twilio-Signature")
    if not signature_is_valid(auth_token=token, url=url, params=params, signature=signature):
        log.warning(kv("webhook.bad_signature", path=request.url.path))
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid X-Twilio-Signature")
    # Twilio never sends a NUL, and the database cannot store one: it goes, the words stay.
    return {name: value.replace("\x00", "") for name, value in params.items()}


SignedTwilioForm = Annotated[dict[str, str], Depends(signed_twilio_form)]
