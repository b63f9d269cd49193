"""`GET /api/v1/messages` (the delivery log) and `GET /api/v1/messages/{id}` (with events).

Staff see their own clinic's messages; operators and admins see every clinic. Items carry
what is needed to follow a delivery: the recipient is masked, and message content is shown
only on the detail view and only to clinical roles (operators watch delivery, not care).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from service.accounts import Principal
from service.api import errors
from service.api.deps import (
    OFFSET_MAX,
    DbId,
    Instant,
    ReaderDep,
    SessionDep,
    ensure_visible,
    invalid,
    visible_row,
)
from service.db.models import Message, MessageEvent
from service.domain import CLINIC_ROLES, CLINICAL_ROLES, Channel, MessageStatus
from service.logs import mask_email, mask_phone

router = APIRouter(prefix="/api/v1", tags=["messages"], responses=errors.AUTHENTICATED)


class MessageSummary(BaseModel):
    id: int
    clinic_id: int
    patient_id: int | None
    enrollment_id: int | None
    kind: str
    step: str | None
    occurrence: int
    channel: str
    priority: str
    language: str
    to: str | None  # masked
    status: str
    status_reason: str | None
    due_at: datetime
    next_attempt_at: datetime
    valid_until: datetime | None
    attempts: int
    sent_at: datetime | None
    delivered_at: datetime | None
    provider: str | None
    provider_id: str | None
    segments: int | None
    error_code: str | None
    error_text: str | None
    fallback_of_id: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, m: Message) -> MessageSummary:
        data: dict[str, Any] = m.model_dump()
        data["step"] = m.step_key
        data["to"] = _masked(m)
        return cls.model_validate(data)


class MessageEventPublic(BaseModel):
    at: datetime
    from_status: str | None
    to_status: str
    reason: str | None
    provider_status: str | None
    error_code: str | None
    actor: str | None


class MessageDetail(MessageSummary):
    subject: str | None = None
    body: str | None = None
    events: list[MessageEventPublic] = []


class MessagePage(BaseModel):
    items: list[MessageSummary]
    total: int
    limit: int
    offset: int
    next: str | None  # the next page's URL, when there is one


def _masked(message: Message) -> str | None:
    if message.to_address is None:
        return None
    if message.channel == Channel.EMAIL:
        return mask_email(message.to_address)
    return mask_phone(message.to_address)


def _clinic_scope(principal: Principal, clinic: int | None) -> int | None:
    if principal.role in CLINIC_ROLES:
        if clinic is not None:
            ensure_visible(principal, clinic)
        return principal.clinic_id
    return clinic


@router.get("/messages", response_model=MessagePage, responses=errors.NOT_FOUND)
def list_messages(
    request: Request,
    session: SessionDep,
    principal: ReaderDep,
    status_: Annotated[list[MessageStatus] | None, Query(alias="status")] = None,
    channel: Annotated[Channel | None, Query()] = None,
    patient: Annotated[DbId | None, Query(description="patient id")] = None,
    clinic: Annotated[DbId | None, Query(description="clinic id")] = None,
    due_from: Annotated[Instant | None, Query(description="due_at >= this (UTC)")] = None,
    due_to: Annotated[Instant | None, Query(description="due_at < this (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=OFFSET_MAX)] = 0,
) -> MessagePage:
    """The delivery log, newest due first, filtered and paginated."""
    if due_from and due_to and due_from > due_to:
        raise invalid("due_from", "must not be after due_to", where="query")
    conditions = _conditions(
        status_, channel, patient, _clinic_scope(principal, clinic), due_from, due_to
    )
    total = session.exec(select(func.count()).select_from(Message).where(*conditions)).one()
    query = (
        select(Message)
        .where(*conditions)
        .order_by(col(Message.due_at).desc(), col(Message.id).desc())
        .offset(offset)
        .limit(limit)
    )
    items = [MessageSummary.of(m) for m in session.exec(query)]
    more = offset + len(items) < total
    next_url = str(request.url.include_query_params(offset=offset + limit)) if more else None
    return MessagePage(items=items, total=total, limit=limit, offset=offset, next=next_url)


def _conditions(
    statuses: list[MessageStatus] | None,
    channel: Channel | None,
    patient: int | None,
    clinic: int | None,
    due_from: datetime | None,
    due_to: datetime | None,
) -> list[Any]:
    conditions: list[Any] = []
    if statuses:
        conditions.append(col(Message.status).in_([s.value for s in statuses]))
    if channel is not None:
        conditions.append(Message.channel == channel.value)
    if patient is not None:
        conditions.append(Message.patient_id == patient)
    if clinic is not None:
        conditions.append(Message.clinic_id == clinic)
    if due_from is not None:
        conditions.append(col(Message.due_at) >= due_from)
    if due_to is not None:
        conditions.append(col(Message.due_at) < due_to)
    return conditions


@router.get("/messages/{message_id}", response_model=MessageDetail, responses=errors.NOT_FOUND)
def get_message(message_id: DbId, session: SessionDep, principal: ReaderDep) -> MessageDetail:
    """One message with its full status history; content for staff and admins only."""
    message = visible_row(session, principal, Message, message_id)
    detail = MessageDetail.model_validate(
        {**MessageSummary.of(message).model_dump(), "events": _events(session, message_id)}
    )
    if principal.role in CLINICAL_ROLES:
        detail.subject, detail.body = message.subject, message.body
    return detail


def _events(session: Session, message_id: int) -> list[MessageEventPublic]:
    query = (
        select(MessageEvent)
        .where(MessageEvent.message_id == message_id)
        .order_by(col(MessageEvent.at), col(MessageEvent.id))
    )
    return [MessageEventPublic.model_validate(e.model_dump()) for e in session.exec(query)]
