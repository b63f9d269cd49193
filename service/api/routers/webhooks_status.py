"""`POST /webhooks/twilio/status`: Twilio's delivery status callbacks.

Verify the signature (against the URL Twilio called, rebuilt from PUBLIC_BASE_URL so a
proxy in front of us does not break it), record the receipt, answer 2xx at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from service.api import errors
from service.api.deps import SessionDep, invalid
from service.api.twilio_signed import SignedTwilioForm
from service.channels.twilio_status import from_callback
from service.delivery_receipts import apply_receipt, find_message
from service.domain import ID_MAX, parse_id
from service.logs import kv

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"], responses=errors.WEBHOOK)
# What a callback stores, and its columns (Message.provider_id, MessageEvent.provider_status
# and error_code): a longer value is refused by name, never half-stored.
FIELD_LIMITS = {"MessageSid": 64, "SmsSid": 64, "MessageStatus": 32, "SmsStatus": 32,
                "ErrorCode": 32}  # fmt: skip


@router.post("/webhooks/twilio/status", status_code=204, response_class=Response)
def twilio_status(
    request: Request,
    params: SignedTwilioForm,
    session: SessionDep,
) -> Response:
    # A plain (threadpool) handler: the row lock may wait on a dispatcher's commit.
    for field, limit in FIELD_LIMITS.items():
        if len(params.get(field, "")) > limit:
            raise invalid(field, f"at most {limit} characters")
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
    """Our message id from the callback URL; a value no message id can have is refused."""
    if not raw:
        return None
    message_id = parse_id(raw)
    if message_id is None:
        raise invalid("mid", f"not a message id (1 to {ID_MAX})", where="query")
    return message_id
