"""`POST /webhooks/twilio/status`: Twilio's delivery status callbacks.

Verify the signature (against the URL Twilio called, rebuilt from PUBLIC_BASE_URL so a
proxy in front of us does not break it), record the callback (written with the others
arriving meanwhile, `receipts_writer`), answer 2xx once it is stored. The workers apply
recorded callbacks in bulk moments later (`delivery_receipts.apply_pending`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import DBAPIError

from service.api import errors
from service.api.deps import invalid, not_saved
from service.api.receipts_writer import writer_for
from service.api.routers.patients import request_now
from service.api.twilio_signed import SignedTwilioForm
from service.domain import ID_MAX, parse_id

router = APIRouter(tags=["webhooks"], responses=errors.WEBHOOK)
# What a callback stores, and its columns (Message.provider_id, MessageEvent.provider_status
# and error_code): a longer value is refused by name, never half-stored.
FIELD_LIMITS = {"MessageSid": 64, "SmsSid": 64, "MessageStatus": 32, "SmsStatus": 32,
                "ErrorCode": 32}  # fmt: skip


@router.post("/webhooks/twilio/status", status_code=204, response_class=Response)
async def twilio_status(request: Request, params: SignedTwilioForm) -> Response:
    for field, limit in FIELD_LIMITS.items():
        if len(params.get(field, "")) > limit:
            raise invalid(field, f"at most {limit} characters")
    row = {
        "received_at": request_now(request),
        "message_id": _our_id(request.query_params.get("mid")),
        "provider_id": params.get("MessageSid") or params.get("SmsSid") or None,
        "provider_status": params.get("MessageStatus") or params.get("SmsStatus") or "",
        "error_code": params.get("ErrorCode") or None,
    }
    try:
        await writer_for(request).record(row)
    except DBAPIError as exc:  # not stored: an error, so Twilio tries again
        raise not_saved(exc) from None
    return Response(status_code=204)


def _our_id(raw: str | None) -> int | None:
    """Our message id from the callback URL; a value no message id can have is refused."""
    if not raw:
        return None
    message_id = parse_id(raw)
    if message_id is None:
        raise invalid("mid", f"not a message id (1 to {ID_MAX})", where="query")
    return message_id
