"""`POST /webhooks/twilio/status`: Twilio's delivery status callbacks.

Verify the signature (against the URL Twilio called, rebuilt from PUBLIC_BASE_URL so a
proxy in front of us does not break it), record the receipt, answer 2xx at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from service.api.deps import SessionDep, SettingsDep
from service.channels.twilio_status import from_callback
from service.channels.twilio_webhooks import public_url, signature_is_valid
from service.delivery_receipts import apply_receipt, find_message
from service.logs import kv

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])


async def _form(request: Request) -> dict[str, str]:
    # Parsed by hand: the signature covers every field, blank ones included.
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


@router.post("/webhooks/twilio/status", status_code=204, response_class=Response)
def twilio_status(
    request: Request,
    params: Annotated[dict[str, str], Depends(_form)],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    # A plain (threadpool) handler: the row lock may wait on a dispatcher's commit.
    url = public_url(settings.public_base_url, request.url.path, request.url.query)
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    signature = request.headers.get("X-Twilio-Signature")
    if not signature_is_valid(auth_token=token, url=url, params=params, signature=signature):
        log.warning(kv("webhook.status.bad_signature", path=request.url.path))
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid X-Twilio-Signature")
    sid = params.get("MessageSid") or params.get("SmsSid") or None
    message = find_message(
        session, message_id=_our_id(request.query_params.get("mid")), provider_id=sid
    )
    if message is None:
        # 2xx anyway: Twilio cannot do anything useful with an error here.
        log.warning(kv("webhook.status.unknown_message", mid=request.query_params.get("mid")))
        return Response(status_code=204)
    apply_receipt(
        session, message=message, provider_id=sid, receipt=from_callback(params),
        now=datetime.now(UTC),
    )  # fmt: skip
    return Response(status_code=204)


def _our_id(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None
