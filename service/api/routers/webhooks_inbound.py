"""Inbound replies: `POST /webhooks/twilio/sms` and `POST /webhooks/email/inbound`.

Verify, parse, record, answer 2xx (STYLE convention 11). Twilio's signature is checked
against the URL rebuilt from PUBLIC_BASE_URL (what Twilio called, not what a proxy
forwarded to us). A replayed MessageSid or Message-ID is recognised and changes nothing.
Replies and pages are new outbound rows; no provider is called inside the request, and
the TwiML answer is always empty.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from service.api import errors
from service.api.deps import SessionDep, SettingsDep, invalid
from service.api.limits import inbound_secret_ok
from service.api.routers.patients import request_now
from service.api.twilio_signed import SignedTwilioForm
from service.composer import Composer
from service.config import Settings
from service.inbound.email import parse_email
from service.inbound.handle import Outcome, find_inbound, handle_reply
from service.inbound.reply import InboundReply
from service.inbound.sms import InboundParseError, parse_twilio_form
from service.logs import kv
from service.rendering import Renderer

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"], responses=errors.WEBHOOK)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_EMAIL_BYTES = 10 * 1024 * 1024
ADDRESS_MAX = 254  # InboundMessage.from_address / to_address
PROVIDER_ID_MAX = 200  # InboundMessage.provider_id
_renderers: dict[str, Renderer] = {}


def composer_for(settings: Settings) -> Composer:
    """One Renderer per templates folder: its Jinja environment caches compiled templates."""
    key = str(settings.templates_dir)
    if key not in _renderers:
        _renderers[key] = Renderer(settings.templates_dir)
    return Composer(renderer=_renderers[key], base_url=settings.public_base_url)


@router.post("/webhooks/twilio/sms", response_class=Response)
def twilio_sms(
    request: Request,
    params: SignedTwilioForm,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    try:
        reply = parse_twilio_form(params)
    except InboundParseError as exc:
        raise _unparsable(exc) from None
    _handle(session, storable(reply), settings, now=request_now(request))
    return Response(EMPTY_TWIML, media_type="application/xml")


async def _raw(request: Request) -> bytes:
    return await request.body()


@router.post("/webhooks/email/inbound")
def email_inbound(
    request: Request,
    raw: Annotated[bytes, Depends(_raw)],
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, object]:
    """A raw RFC 822 message, authenticated by the shared EMAIL_INBOUND_SECRET."""
    if not inbound_secret_ok(request.headers, settings):  # checked before reading, too
        log.warning(kv("webhook.email.bad_secret"))
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid or missing inbound secret")
    if not raw.strip():
        raise invalid("body", "empty message")
    if len(raw) > MAX_EMAIL_BYTES:
        raise HTTPException(413, "body: message too large")
    try:
        reply = parse_email(raw)
    except InboundParseError as exc:
        raise _unparsable(exc) from None
    outcome = _handle(session, storable(reply), settings, now=request_now(request))
    return {"id": outcome.inbound_id, "duplicate": outcome.duplicate, "action": outcome.action}


def _unparsable(exc: InboundParseError) -> HTTPException:
    field, _, message = str(exc).partition(": ")
    return invalid(field, message) if message else invalid("body", field)


def storable(reply: InboundReply) -> InboundReply:
    """The reply as the database can store it, never a 500 on hostile input.

    A NUL (Twilio never sends one; an email's quoted-printable `=00` decodes to one) is
    removed rather than refused: a patient's words are never dropped for it. A sender or
    recipient longer than its column is refused by name; an overlong Message-ID is kept
    as its digest, so a replay is still recognised.
    """
    values = {
        # type() is str, not isinstance: the channel is a str enum and must stay one
        name: value.replace("\x00", "") if type(value) is str else value
        for name, value in vars(reply).items()
    }
    for name, column in (("from_address", "From"), ("to_address", "To")):
        if len(values[name] or "") > ADDRESS_MAX:
            raise invalid(column, f"at most {ADDRESS_MAX} characters")
    if len(values["provider_id"]) > PROVIDER_ID_MAX:
        values["provider_id"] = (
            "sha256:" + hashlib.sha256(values["provider_id"].encode()).hexdigest()
        )
    return replace(reply, **values)  # type: ignore[arg-type]


def _handle(session: Session, reply: InboundReply, settings: Settings, *, now: datetime) -> Outcome:
    try:
        outcome = handle_reply(session, reply=reply, composer=composer_for(settings), now=now)
        session.commit()
    except IntegrityError:
        # A concurrent replay of the same provider id won the insert: it is handled.
        session.rollback()
        existing = find_inbound(session, reply.provider_id)
        if existing is None:
            raise
        return Outcome(inbound_id=existing.id, duplicate=True, action=existing.intent)
    if outcome.duplicate:
        log.info(kv("webhook.inbound.duplicate", inbound_id=outcome.inbound_id))
    return outcome
