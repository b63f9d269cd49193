"""The replies inbox over REST (DESIGN §5): list, mark handled, attribute to a patient.

Every reply that carries words is here until a person marks it handled; triage only
orders the list (urgent, concern, then the rest; oldest first within each). Staff see
their own clinic; admins every clinic (or one, with `clinic_id`); operators none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from service.accounts import Principal
from service.api import errors
from service.api.deps import OFFSET_MAX, ClinicalDep, DbId, SessionDep, ensure_visible, visible_row
from service.api.routers.patients import NowDep, invalid
from service.db.models import InboundMessage, ReplyItem
from service.domain import Role
from service.inbox import InboxError, ReplyView, assign, list_replies, mark_handled, patient_ids_of
from service.inbox.items import ReplyStatus

router = APIRouter(prefix="/api/v1/replies", tags=["replies"], responses=errors.AUTHENTICATED)


class ReplyPublic(BaseModel):
    id: int
    received_at: datetime
    channel: str
    text: str = Field(description="What the patient wrote (email: without quoted history)")
    label: str = Field(description="The triage label, which orders the inbox")
    patient_ids: list[int] = Field(
        description="Every patient the reply may be from (all of them on a shared number); "
        "the attributed one first"
    )
    patient_id: int | None = Field(description="The patient it is attributed to, if any")
    clinic_id: int
    alert_id: int | None = Field(description="The alert the reply opened or joined")
    due_at: datetime = Field(description="When a person should have read it")
    overdue_alert_id: int | None = Field(description="The task opened when it went past due")
    media_count: int
    handled_at: datetime | None
    handled_by: str | None
    handled_note: str | None

    @classmethod
    def of(cls, view: ReplyView) -> ReplyPublic:
        item, inbound = view.item, view.inbound
        return cls(
            id=item.id or 0,
            received_at=item.received_at,
            channel=item.channel,
            text=inbound.triaged_text if inbound.triaged_text is not None else inbound.body,
            label=item.label,
            patient_ids=view.patient_ids,
            patient_id=item.patient_id,
            clinic_id=item.clinic_id,
            alert_id=item.alert_id,
            due_at=item.due_at,
            overdue_alert_id=item.overdue_alert_id,
            media_count=len(inbound.media_urls or []),
            handled_at=item.handled_at,
            handled_by=item.handled_by,
            handled_note=item.handled_note,
        )


class ReplyPage(BaseModel):
    items: list[ReplyPublic]
    total: int
    limit: int
    offset: int
    next: str | None


class HandledRequest(errors.Input):
    note: str | None = Field(default=None, max_length=500)


class AssignRequest(errors.Input):
    patient_id: DbId


@router.get("", response_model=ReplyPage, responses=errors.NOT_FOUND)
def get_replies(
    request: Request,
    session: SessionDep,
    principal: ClinicalDep,
    reply_status: Annotated[ReplyStatus, Query(alias="status")] = "unread",
    clinic_id: DbId | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=OFFSET_MAX)] = 0,
) -> ReplyPage:
    """The clinic's replies, most urgent and oldest first."""
    scope = principal.clinic_id if principal.role != Role.ADMIN else clinic_id
    if principal.role != Role.ADMIN and clinic_id is not None:
        ensure_visible(principal, clinic_id)
    views, total = list_replies(
        session, clinic_id=scope, status=reply_status, limit=limit, offset=offset
    )
    more = offset + len(views) < total
    next_url = str(request.url.include_query_params(offset=offset + limit)) if more else None
    items = [ReplyPublic.of(v) for v in views]
    return ReplyPage(items=items, total=total, limit=limit, offset=offset, next=next_url)


@router.post(
    "/{reply_id}/handled",
    response_model=ReplyPublic,
    responses={**errors.NOT_FOUND, **errors.CONFLICT},
)
def handled(
    reply_id: DbId,
    session: SessionDep,
    principal: ClinicalDep,
    now: NowDep,
    body: HandledRequest | None = None,
) -> ReplyPublic:
    """Mark one reply handled (who and when are recorded; the note is optional)."""
    item = _visible(session, principal, reply_id)
    mark_handled(
        session, item=item, actor=principal.label, now=now, note=body.note if body else None
    )
    return _public(session, item)


@router.post(
    "/{reply_id}/assign",
    response_model=ReplyPublic,
    responses={**errors.NOT_FOUND, **errors.CONFLICT},
)
def assign_reply(
    reply_id: DbId, body: AssignRequest, session: SessionDep, principal: ClinicalDep, now: NowDep
) -> ReplyPublic:
    """Attribute a reply from a shared number to one of its patients (audited)."""
    item = _visible(session, principal, reply_id)
    try:
        assign(session, item=item, patient_id=body.patient_id, actor=principal.label, now=now)
    except InboxError as exc:
        raise invalid(exc.field, exc.message) from None
    return _public(session, item)


def _visible(session: Session, principal: Principal, reply_id: int) -> ReplyItem:
    return visible_row(session, principal, ReplyItem, reply_id)


def _public(session: Session, item: ReplyItem) -> ReplyPublic:
    session.flush()
    inbound = session.get(InboundMessage, item.inbound_id)
    assert inbound is not None  # foreign key
    ids = patient_ids_of(session, [item])[item.id or 0]
    return ReplyPublic.of(ReplyView(item, inbound, ids))
