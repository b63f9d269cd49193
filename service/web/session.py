"""The browser session: one signed cookie holding the user id and a CSRF token.

The cookie is signed (itsdangerous) with SECRET_KEY, so it cannot be forged or edited;
it holds no personal data. It is HttpOnly, SameSite=Lax, and Secure whenever the public
URL is https. Every visitor gets a session (anonymous until login) so that even the
login form carries a CSRF token; logging in issues a fresh token (no fixation).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from service.config import Settings

COOKIE_NAME = "aftercare_session"
MAX_AGE_SECONDS = 12 * 3600  # one clinic shift; then log in again
_SALT = "aftercare.web.session.v1"


@dataclass
class WebSession:
    csrf: str
    user_id: int | None = None
    login_at: str | None = None  # ISO instant of the login this session belongs to

    @classmethod
    def anonymous(cls) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(32))

    @classmethod
    def for_user(cls, user_id: int, login_at: datetime) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(32), user_id=user_id, login_at=login_at.isoformat())


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key.get_secret_value(), salt=_SALT)


def read_session(request: Request, settings: Settings) -> WebSession | None:
    """The session in the request's cookie, or None if absent, forged or expired."""
    raw = request.cookies.get(COOKIE_NAME)
    if not raw:
        return None
    try:
        data = _serializer(settings).loads(raw, max_age=MAX_AGE_SECONDS)
    except BadSignature:  # SignatureExpired is a subclass
        return None
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
        return None
    uid = data.get("uid")
    return WebSession(
        csrf=data["csrf"],
        user_id=uid if isinstance(uid, int) else None,
        login_at=data.get("at") if isinstance(data.get("at"), str) else None,
    )


def write_session(response: Response, session: WebSession, settings: Settings) -> None:
    payload = {"csrf": session.csrf, "uid": session.user_id, "at": session.login_at}
    response.set_cookie(
        COOKIE_NAME,
        _serializer(settings).dumps(payload),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
        path="/",
    )


def clear_session(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
    )


def csrf_matches(session: WebSession | None, submitted: str | None) -> bool:
    if session is None or not submitted:
        return False
    return secrets.compare_digest(session.csrf.encode(), submitted.encode())
