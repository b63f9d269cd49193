"""Parsing Twilio's inbound SMS/MMS webhook form into an `InboundReply`.

Twilio's field names (MessageSid, NumMedia, MediaUrl0...) stop here. An MMS photo has
no text: it is kept as links for staff review, never dropped. Bodies up to Twilio's
1,600 characters are kept whole; emoji and empty bodies are valid replies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from service.domain import Channel
from service.inbound.reply import MAX_BODY_CHARS, InboundReply

MAX_MEDIA = 10  # Twilio delivers at most ten media items per MMS
_SID = re.compile(r"^[A-Za-z]{2}[A-Za-z0-9]{8,62}$")  # SM/MM + 32 hex in practice


class InboundParseError(ValueError):
    """The webhook lacks a field we cannot do without; the message names it."""


def parse_twilio_form(form: Mapping[str, str]) -> InboundReply:
    """Read the fields we use; raises InboundParseError naming a missing/invalid field."""
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not _SID.match(sid):
        raise InboundParseError("MessageSid: missing or not a Twilio message id")
    sender = (form.get("From") or "").strip()
    if not sender:
        raise InboundParseError("From: missing")
    body = (form.get("Body") or "")[:MAX_BODY_CHARS]
    return InboundReply(
        provider_id=sid,
        channel=Channel.SMS,
        from_address=sender,
        to_address=(form.get("To") or "").strip() or None,
        body=body,
        text=body.strip(),
        media_urls=media_urls(form),
    )


def media_urls(form: Mapping[str, str]) -> tuple[str, ...]:
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        count = MAX_MEDIA  # a garbled count must not lose a photo: look at every slot
    urls = (form.get(f"MediaUrl{index}", "").strip() for index in range(min(count, MAX_MEDIA)))
    return tuple(url for url in urls if url.startswith(("https://", "http://")))
