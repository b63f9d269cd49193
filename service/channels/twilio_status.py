"""Twilio's delivery vocabulary translated into ours (pure: no I/O).

Status strings and error codes stop here: the rest of the service sees a
`DeliveryStatus` carrying our `MessageStatus` and a reason staff can read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.domain import MessageStatus

# None: an intermediate Twilio state that does not move our row (we are already "sent"
# once Twilio accepts a request).
STATUSES: dict[str, MessageStatus | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "partially_delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.CANCELLED,
}

ERRORS: dict[int, str] = {
    20003: "Twilio rejected our credentials (check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)",
    20429: "Twilio is rate limiting us (too many requests); will retry",
    20500: "Twilio had an internal error",
    21211: "The phone number is not valid",
    21408: "Sending SMS to this country/region is not enabled on the Twilio account",
    21602: "The message body is empty",
    21603: "No sender number or messaging service configured",
    21606: "The sender number cannot send SMS",
    21610: "The patient has unsubscribed from texts at the carrier (replied STOP)",
    21612: "Twilio cannot route a text to this number",
    21614: "The number is not a mobile phone (landline?): texts cannot reach it",
    21617: "The message is longer than 1600 characters",
    30001: "Twilio's queue overflowed; the message was not sent",
    30002: "The Twilio account is suspended",
    30003: "The phone is switched off or out of coverage",
    30004: "The recipient or carrier blocked the message",
    30005: "The number no longer exists at the carrier",
    30006: "The number is a landline or its carrier cannot receive texts",
    30007: "The carrier's spam filter blocked the message",
    30008: "The carrier reported an unknown error",
    30010: "The message price exceeded the maximum price",
    30022: "The 10DLC sending rate limit was exceeded",
    30032: "The toll-free sender number is not verified",
    30034: "The sender number is not registered for A2P 10DLC; US carriers block it",
}


# Carrier errors after acceptance that say the number itself cannot take texts: no text
# to it will ever arrive (30003 "switched off" or 30007 "filtered" may pass; these do not).
UNREACHABLE_CODES = frozenset({30005, 30006})


@dataclass(frozen=True)
class DeliveryStatus:
    status: MessageStatus | None  # None: nothing to change, only to record
    provider_status: str
    error_code: str | None
    reason: str
    unreachable: bool = False  # the number cannot take texts (landline, no such number)


def describe_error(code: int | str | None) -> str:
    """A sentence staff can act on, for a Twilio or carrier error code."""
    if code in (None, ""):
        return "no error reported"
    try:
        number = int(code)
    except ValueError:
        return f"Twilio error {code}"
    return ERRORS.get(number, f"Twilio error {number}")


def translate(provider_status: str, error_code: str | None = None) -> DeliveryStatus:
    """Map a Twilio MessageStatus (and ErrorCode) to ours."""
    name = provider_status.strip().lower()
    status = STATUSES.get(name)
    code = error_code or None
    reason = f"Twilio: {name}"
    if code:
        reason = f"{describe_error(code)} (Twilio {code})"
    unreachable = bool(code and code.isdigit() and int(code) in UNREACHABLE_CODES)
    return DeliveryStatus(status=status, provider_status=name, error_code=code, reason=reason,
                          unreachable=unreachable)  # fmt: skip


def from_callback(params: Mapping[str, str]) -> DeliveryStatus:
    """Parse a status callback's form fields."""
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    return translate(status, params.get("ErrorCode"))
