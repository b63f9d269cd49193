"""The browser's cookie: a CSRF token and, once signed in, the server-side session's token.

Who is signed in is decided by the `user_sessions` row the token names (service.sessions):
logout, the idle timeout and revocation end it there, whatever the cookie says. The
cookie is signed (itsdangerous) with SECRET_KEY besides, holds no personal data, and is
HttpOnly, SameSite=Lax, and Secure whenever the public URL is https. Every visitor gets
one (anonymous until login) so that even the login form carries a CSRF token; signing
in issues a fresh CSRF token and a fresh session token (no fixation).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from service.config import Settings

COOKIE_NAME = "aftercare_session"  # over plain http (development on localhost)
# Over https the name carries the __Host- prefix: browsers then take it only if it is
# Secure, for Path=/ and without a Domain, so no sibling host can set or shadow it.
SECURE_COOKIE_NAME = "__Host-aftercare_session"


def cookie_name(settings: Settings) -> str:
    return SECURE_COOKIE_NAME if _https(settings) else COOKIE_NAME


def _https(settings: Settings) -> bool:
    return settings.public_base_url.startswith("https://")


MAX_AGE_SECONDS = 12 * 3600  # one clinic shift; then log in again
_SALT = "aftercare.web.session.v1"


@dataclass
class WebSession:
    csrf: str
    token: str | None = None  # the server-side session (service.sessions), once signed in

    @classmethod
    def anonymous(cls) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(32))

    @classmethod
    def signed_in(cls, token: str) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(32), token=token)


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key.get_secret_value(), salt=_SALT)


def read_session(request: Request, settings: Settings) -> WebSession | None:
    """The session in the request's cookie, or None if absent, forged or expired."""
    raw = request.cookies.get(cookie_name(settings))
    if not raw:
        return None
    try:
        data = _serializer(settings).loads(raw, max_age=MAX_AGE_SECONDS)
    except BadSignature:  # SignatureExpired is a subclass
        return None
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
        return None
    token = data.get("sid")
    return WebSession(csrf=data["csrf"], token=token if isinstance(token, str) else None)


def write_session(response: Response, session: WebSession, settings: Settings) -> None:
    payload = {"csrf": session.csrf, "sid": session.token}
    response.set_cookie(
        cookie_name(settings),
        _serializer(settings).dumps(payload),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_https(settings),
        path="/",
    )


def clear_session(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        cookie_name(settings),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_https(settings),
    )


def csrf_matches(session: WebSession | None, submitted: str | None) -> bool:
    if session is None or not submitted:
        return False
    return secrets.compare_digest(session.csrf.encode(), submitted.encode())
