"""The replies inbox: every patient reply a person should read, most urgent and oldest
first; mark handled, attribute a shared-number reply, refreshed without reload."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select

from service import inbox
from service.api.deps import SessionDep
from service.db.models import Clinic, ReplyItem
from service.db.types import utcnow
from service.web.access import visible
from service.web.deps import CsrfDep, StaffDep, Viewer, WebError, WebRoute, page
from service.web.people import names_for
from service.web.reply_data import INBOX_LIMIT, ReplyCard, reply_cards, signature
from service.web.templating import SECURITY_HEADERS, templates_for
from service.web.views_alerts import POLL_SECONDS

router = APIRouter(route_class=WebRoute, include_in_schema=False)
DEFAULT_BACK = "/app/replies"


@router.get("/app/replies")
def replies_page(
    request: Request,
    session: SessionDep,
    viewer: StaffDep,
    status: Literal["unread", "handled"] = "unread",
) -> Response:
    cards = reply_cards(session, clinic_id=viewer.clinic_id, status=status)
    context = _list_context(session, viewer, cards)
    del context["viewer"]  # page() adds it
    return page(request, "replies.html", viewer, status=status, sig=signature(cards),
                poll_seconds=POLL_SECONDS, inbox_limit=INBOX_LIMIT, **context)  # fmt: skip


@router.get("/app/replies/feed")
def replies_feed(request: Request, session: SessionDep, viewer: StaffDep) -> Response:
    """The unread list alone (HTML fragment), polled by live.js every few seconds."""
    cards = reply_cards(session, clinic_id=viewer.clinic_id)
    sig = signature(cards)
    headers = SECURITY_HEADERS | {"X-List-Signature": sig, "X-Count": str(len(cards))}
    if request.query_params.get("since") == sig:
        return Response(status_code=204, headers=headers)
    return templates_for(request).TemplateResponse(
        request, "_reply_list.html", _list_context(session, viewer, cards), headers=headers
    )


def _list_context(session: Session, viewer: Viewer, cards: list[ReplyCard]) -> dict[str, object]:
    ids = {card.item.clinic_id for card in cards}
    clinics = session.exec(select(Clinic).where(col(Clinic.id).in_(ids))).all() if ids else []
    people = names_for(session, [card.item.handled_by for card in cards])
    return {"cards": cards, "viewer": viewer, "clinics": {c.id: c for c in clinics},
            "people": people, "now": utcnow(), "back": DEFAULT_BACK}  # fmt: skip


@router.post("/app/replies/{reply_id}/handled", dependencies=[CsrfDep])
def handle_reply(
    session: SessionDep,
    viewer: StaffDep,
    reply_id: int,
    note: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[str, Form()] = DEFAULT_BACK,
) -> Response:
    item = visible(session, viewer, ReplyItem, reply_id)
    inbox.mark_handled(session, item=item, actor=viewer.principal.label, now=utcnow(), note=note)
    return _back(back, "handled", f"reply-{reply_id}")


@router.post("/app/replies/{reply_id}/assign", dependencies=[CsrfDep])
def assign_reply(
    session: SessionDep,
    viewer: StaffDep,
    reply_id: int,
    patient_id: Annotated[int, Form()],
    back: Annotated[str, Form()] = DEFAULT_BACK,
) -> Response:
    item = visible(session, viewer, ReplyItem, reply_id)
    try:
        inbox.assign(session, item=item, patient_id=patient_id, actor=viewer.principal.label,
                     now=utcnow())  # fmt: skip
    except inbox.InboxError as exc:
        raise WebError(exc.message, back=DEFAULT_BACK) from None
    return _back(back, "assigned", f"reply-{reply_id}")


def _back(back: str, done: str, anchor: str) -> RedirectResponse:
    """Back where the form was (the inbox or a patient's thread); only our own pages."""
    target = back if back.startswith("/app/") and "//" not in back and "\\" not in back else None
    path = (target or DEFAULT_BACK).split("?")[0].split("#")[0]
    return RedirectResponse(f"{path}?done={done}#{anchor}", status_code=303)
