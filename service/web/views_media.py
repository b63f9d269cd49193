"""MMS photos for staff, through the service: `/app/media/{reply}/{n}` fetches the n-th
media item of a reply from the provider with the account's credentials and hands the
browser the bytes, never the provider's URL. Images show inline; anything else is only
a download, and every answer is sandboxed and never cached."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlmodel import Session, select

from service.api.deps import DbId, SessionDep, SettingsDep
from service.channels.twilio_media import MediaError, fetch_media
from service.db.models import InboundMessage, ReplyItem
from service.web.deps import NotFound, StaffDep, Viewer, WebError, WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)
_SUFFIX = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


class MediaUnavailable(WebError):
    status_code = 502
    title = "Photo unavailable"


@router.get("/app/media/{inbound_id}/{index}")
def media(
    session: SessionDep, settings: SettingsDep, viewer: StaffDep, inbound_id: DbId, index: int
) -> Response:
    inbound = _visible_reply(session, viewer, inbound_id)
    urls = inbound.media_urls or []
    if not 0 <= index < len(urls):
        raise NotFound("This reply has no such photo.")
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    if not (settings.twilio_account_sid and token):
        raise MediaUnavailable("Photos are fetched from Twilio with the account's credentials: "
                               "set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")  # fmt: skip
    try:
        found = fetch_media(urls[index], account_sid=settings.twilio_account_sid,
                            auth_token=token, api_base_url=settings.twilio_api_base_url,
                            timeout=settings.twilio_timeout_seconds)  # fmt: skip
    except MediaError as exc:
        error = MediaUnavailable(f"The photo could not be fetched: {exc.reason}.")
        error.status_code = exc.status
        raise error from None
    kind = found.content_type if found.inline else "application/octet-stream"
    name = f"reply-{inbound_id}-{index + 1}.{_SUFFIX.get(found.content_type, 'bin')}"
    disposition = "inline" if found.inline else "attachment"
    return Response(found.data, media_type=kind, headers={
        "Content-Disposition": f'{disposition}; filename="{name}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    })  # fmt: skip


def _visible_reply(session: Session, viewer: Viewer, inbound_id: int) -> InboundMessage:
    """A reply of the viewer's clinic (or one filed in its inbox); else 404, like a missing one."""
    inbound = session.get(InboundMessage, inbound_id)
    filed = session.exec(
        select(ReplyItem.clinic_id).where(ReplyItem.inbound_id == inbound_id)
    ).all()
    if inbound is None or not any(viewer.can_see(c) for c in [inbound.clinic_id, *filed] if c):
        raise NotFound("There is no reply with that number in your clinic.")
    return inbound
