"""Inbound replies: `POST /webhooks/twilio/sms` and `POST /webhooks/email/inbound`.

Verify, parse, record, answer 2xx (STYLE convention 11). Twilio's signature is checked
against the URL rebuilt from PUBLIC_BASE_URL (what Twilio called, not what a proxy
forwarded to us). A replayed MessageSid or Message-ID is recognised and changes nothing.
Replies and pages are new outbound rows; no provider is called inside the request, and
the TwiML answer is always empty.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from service.api.deps import SessionDep, SettingsDep
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
router = APIRouter(tags=["webhooks"])

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_EMAIL_BYTES = 10 * 1024 * 1024
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
        raise HTTPException(422, str(exc)) from None
    _handle(session, reply, settings)
    return Response(EMPTY_TWIML, media_type="application/xml")


def _secret_ok(request: Request, settings: Settings) -> bool:
    expected = settings.email_inbound_secret
    if expected is None or not expected.get_secret_value():
        return False  # not configured: refuse everything rather than accept anything
    given = request.headers.get("X-Aftercare-Secret", "")
    auth = request.headers.get("Authorization", "")
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


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
    if not _secret_ok(request, settings):
        log.warning(kv("webhook.email.bad_secret"))
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid or missing inbound secret")
    if not raw.strip():
        raise HTTPException(422, "body: empty message")
    if len(raw) > MAX_EMAIL_BYTES:
        raise HTTPException(413, "body: message too large")
    try:
        reply = parse_email(raw)
    except InboundParseError as exc:
        raise HTTPException(422, str(exc)) from None
    outcome = _handle(session, reply, settings)
    return {"id": outcome.inbound_id, "duplicate": outcome.duplicate, "action": outcome.action}


def _handle(session: Session, reply: InboundReply, settings: Settings) -> Outcome:
    now = datetime.now(UTC)
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
