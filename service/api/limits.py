"""Request bodies are bounded per route and callers are checked before a body is read.

A pure ASGI middleware, in front of routing and body parsing:

- each path has a body limit (Twilio's webhooks are a few KB, an API call a few KB, the
  CSV upload 5 MB, an inbound email 10 MB); a declared `Content-Length` over it is
  answered 413 at once, and a body that streams past it (chunked) is cut off with 413;
- the REST API authenticates the bearer key before the JSON is read: no key, or an
  unknown or revoked one, is a 401 whatever the body (the principal found is handed to
  the route, so the key is looked up once);
- the inbound email webhook checks its shared secret before reading the message.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.accounts import Principal, principal_for_key
from service.config import Settings
from service.logs import kv

log = logging.getLogger(__name__)

KB = 1024
MB = 1024 * KB
# Longest matching prefix wins.
LIMITS: dict[str, int] = {
    "/webhooks/twilio/": 64 * KB,  # Twilio's largest webhook (media URLs included) is small
    "/webhooks/email/inbound": 10 * MB + 64 * KB,  # the message itself may be 10 MB
    "/api/v1/": 256 * KB,
    "/app/import": 6 * MB,  # a 5 MB CSV file and the form around it
    "/app/": 256 * KB,
}
DEFAULT_LIMIT = 64 * KB
API_PREFIX = "/api/v1/"
EMAIL_WEBHOOK = "/webhooks/email/inbound"
PRINCIPAL_KEY = "aftercare.principal"  # in scope["state"]: the caller the key belongs to


def limit_for(path: str) -> int:
    matches = [prefix for prefix in LIMITS if path.startswith(prefix)]
    return LIMITS[max(matches, key=len)] if matches else DEFAULT_LIMIT


def inbound_secret_ok(headers: Any, settings: Settings) -> bool:
    """The email webhook's shared secret, in X-Aftercare-Secret or a bearer header."""
    expected = settings.email_inbound_secret
    if expected is None or not expected.get_secret_value():
        return False  # not configured: refuse everything rather than accept anything
    given = headers.get("X-Aftercare-Secret", "")
    auth = headers.get("Authorization", "")
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit: an HTTP error, so a route
    reading its body answers 413 (FastAPI turns other errors while reading into 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_detail(limit))


class RequestLimits:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path
        limit = limit_for(path)
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            await _too_large(request, limit)(scope, receive, send)
            return
        early = await self._refusal(request, path)
        if early is not None:
            await early(scope, receive, send)
            return
        await self._bounded(scope, receive, send, limit)

    async def _refusal(self, request: Request, path: str) -> Response | None:
        """A 401/403 decided from the headers alone, before any body is read."""
        if path.startswith(API_PREFIX):
            try:
                principal = await self._principal(request)
            except DBAPIError:
                return _json(503, "the database is unavailable; try again", {"Retry-After": "5"})
            if principal is None:
                return _unauthorized(request)
            request.scope.setdefault("state", {})[PRINCIPAL_KEY] = principal
        elif path == EMAIL_WEBHOOK and not inbound_secret_ok(
            request.headers, request.app.state.settings
        ):
            log.warning(kv("webhook.email.bad_secret"))
            return _json(403, "invalid or missing inbound secret")
        return None

    async def _principal(self, request: Request) -> Principal | None:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        engine = request.app.state.engine

        def look_up() -> Principal | None:
            with Session(engine, expire_on_commit=False) as session:
                principal = principal_for_key(session, key.strip())
                try:
                    session.commit()  # the key's last use: worth a try, not a refusal
                except DBAPIError:
                    session.rollback()
                    log.warning(kv("api_key.last_used_not_saved"))
                return principal

        return await run_in_threadpool(look_up)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(Request(scope), limit)(scope, receive, send)


def _json(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps({"detail": detail}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _unauthorized(request: Request) -> Response:
    has_key = bool(request.headers.get("Authorization"))
    detail = (
        "invalid or revoked API key"
        if has_key
        else "missing API key: send Authorization: Bearer <key>"
    )
    return _json(401, detail, {"WWW-Authenticate": "Bearer"})


def _too_large_detail(limit: int) -> str:
    return f"body: larger than this address accepts ({limit} bytes)"


def _too_large(request: Request, limit: int) -> Response:
    if request.url.path.startswith("/app/"):
        from service.web.deps import error_page  # the web app imports this module

        return error_page(request, 413, "The form or file is too large to send.")
    return _json(413, _too_large_detail(limit))
