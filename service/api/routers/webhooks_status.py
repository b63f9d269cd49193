"""`POST /webhooks/twilio/status`: Twilio's delivery status callbacks.

Verify the signature (against the URL Twilio called, rebuilt from PUBLIC_BASE_URL so a
proxy in front of us does not break it), record the receipt, answer 2xx at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from service.api.deps import SessionDep
from service.api.twilio_signed import SignedTwilioForm
from service.channels.twilio_status import from_callback
from service.delivery_receipts import apply_receipt, find_message
from service.logs import kv

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])


@router.post("/webhooks/twilio/status", status_code=204, response_class=Response)
def twilio_status(
    request: Request,
    params: SignedTwilioForm,
    session: SessionDep,
) -> Response:
    # A plain (threadpool) handler: the row lock may wait on a dispatcher's commit.
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
