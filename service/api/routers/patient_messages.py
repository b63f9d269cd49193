"""`POST /api/v1/patients/{id}/messages`: a staff reply, sent at once (DESIGN §5).

Not held by quiet hours (a person chose to send it); refused with 409 and a message
saying what to do instead when the patient opted out of that channel or it cannot reach
them. `Idempotency-Key` makes a retried request return the first reply (200) instead of
sending a second one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Response, status
from pydantic import BaseModel, Field

from service.api import errors
from service.api.deps import ClinicalDep, DbId, SessionDep, SettingsDep, visible_row
from service.api.routers.patients import NowDep, invalid
from service.api.routers.webhooks_inbound import composer_for
from service.db.models import Clinic, Message, Patient
from service.domain import Channel
from service.inbox.staff_reply import MAX_TEXT, StaffReplyError, send_staff_reply

router = APIRouter(prefix="/api/v1/patients", tags=["patients"], responses=errors.AUTHENTICATED)


class StaffMessageCreate(errors.Input):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="What staff write")
    channel: Channel | None = Field(
        default=None, description="sms or email; default: the channel the patient last used"
    )


class StaffMessagePublic(BaseModel):
    id: int
    patient_id: int
    clinic_id: int
    kind: str
    channel: str
    status: str
    subject: str | None
    body: str | None
    segments: int | None
    due_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> StaffMessagePublic:
        return cls.model_validate(message, from_attributes=True)


@router.post(
    "/{patient_id}/messages",
    response_model=StaffMessagePublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": StaffMessagePublic, "description": "A repeated Idempotency-Key: the first"},
        **errors.NOT_FOUND,
        **errors.CONFLICT,
    },
)
def send_message(
    patient_id: DbId,
    body: StaffMessageCreate,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: ClinicalDep,
    now: NowDep,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> StaffMessagePublic:
    """Reply to the patient now, on `channel` (audited; handles their unread replies)."""
    patient = visible_row(session, principal, Patient, patient_id)
    clinic = session.get(Clinic, patient.clinic_id)
    assert clinic is not None  # foreign key
    try:
        sent = send_staff_reply(session, composer=composer_for(settings), clinic=clinic,
                                patient=patient, text=body.text, actor=principal.label, now=now,
                                channel=body.channel, key=idempotency_key)  # fmt: skip
    except StaffReplyError as exc:
        if exc.conflict:
            raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from None
        raise invalid(exc.field, exc.message) from None
    if not sent.created:
        response.status_code = status.HTTP_200_OK
    return StaffMessagePublic.of(sent.message)
