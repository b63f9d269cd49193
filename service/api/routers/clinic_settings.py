"""A clinic's settings over REST: read them, change some of them, see who changed what.

For the clinic's own clinic admins, and admins (any clinic). Staff and operators get
403; another clinic's settings are 404, like a clinic that does not exist. A change is
checked whole before anything is stored (422 naming the field), written to the audit
log with each setting's old and new value, and applied to what is not yet sent: see
`service.clinic_settings`. Only a clinic admin's sender number must be the clinic's
own (an admin may share one between clinics).
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import Session, col, select

from service.api import errors
from service.api.deps import ClinicAdminDep, DbId, SessionDep, SettingsDep, invalid
from service.api.routers.clinics import OnCallPerson, clinic_for
from service.api.routers.patients import NowDep
from service.clinic_settings import change_settings
from service.clinics import ClinicChanges, ClinicError, OnCall, SenderRule, missing_warning
from service.clinics import oncall_list as people_of
from service.db.models import AuditLog, Clinic
from service.domain import Role
from service.senders import BURST_MAX, RATE_MAX, Defaults, sms_sender_of

router = APIRouter(prefix="/api/v1/clinics", tags=["clinics"], responses=errors.AUTHENTICATED)
ONCALL_MAX = 50


_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError("expected HH:MM on a 24-hour clock, e.g. 20:00")
    return value


# A local wall time, HH:MM (no seconds, no offset: the patient's or the clinic's clock).
WallTime = Annotated[
    str,
    Field(max_length=5, examples=["20:00"], json_schema_extra={"pattern": _HHMM.pattern}),
    AfterValidator(_hhmm),
]


class ClinicSettingsUpdate(errors.Input):
    """The settings to change; a setting left out stays as it is (null is refused)."""

    name: str | None = Field(default=None, max_length=200, description="Shown in every text")
    contact_phone: str | None = Field(default=None, max_length=32,
                                      description="The clinic's number, in every text")  # fmt: skip
    phone_24h: bool | None = Field(default=None, description="Answered day and night")
    emergency_phone: str | None = Field(default=None, max_length=3, examples=["911"])
    timezone: str | None = Field(default=None, max_length=64, examples=["Europe/London"])
    quiet_start: WallTime | None = Field(default=None, description="No routine texts from...")
    quiet_end: WallTime | None = Field(default=None, description="...until (patient's time)")
    night_start: WallTime | None = Field(default=None, description="No safety texts from...")
    night_end: WallTime | None = None
    sms_from: str | None = Field(default=None, max_length=32, description="Sender number")
    sender_rate_per_second: float | None = Field(
        default=None, gt=0, le=RATE_MAX, allow_inf_nan=False,
        description="Messages per second the clinic's own number takes (all workers)",
    )  # fmt: skip
    sender_burst: int | None = Field(
        default=None, ge=1, le=BURST_MAX, description="Sent back to back after a quiet spell"
    )
    alert_ack_minutes: int | None = Field(
        default=None, ge=1, le=1440, description="Re-page and escalate after this"
    )
    reply_response_minutes: int | None = Field(default=None, ge=1, le=1440)
    reply_day_start: WallTime | None = None
    reply_day_end: WallTime | None = None
    reply_night_due: WallTime | None = None
    page_detail: Literal["full", "minimal"] | None = None
    oncall: list[OnCallPerson] | None = Field(
        default=None, max_length=ONCALL_MAX, description="In escalation order; replaces the list"
    )


class ReplanPublic(BaseModel):
    enrollments: int
    moved: int
    unchanged: int
    added: int
    skipped: int
    cancelled: int
    others_moved: int


class ClinicSettingsPublic(BaseModel):
    clinic_id: int
    slug: str
    name: str
    contact_phone: str
    phone_24h: bool
    emergency_phone: str
    timezone: str
    quiet_start: str
    quiet_end: str
    night_start: str
    night_end: str
    sms_from: str | None
    sender: str | None  # the number (or Messaging Service) texts leave from
    sender_rate_per_second: float | None  # None: not paced
    sender_burst: int | None
    alert_ack_minutes: int
    reply_response_minutes: int
    reply_day_start: str
    reply_day_end: str
    reply_night_due: str
    page_detail: str
    oncall: list[OnCallPerson]
    warnings: list[str]
    # After a change: the settings it changed and what was re-planned.
    changed: list[str] | None = None
    replanned: ReplanPublic | None = None


class SettingsChangePublic(BaseModel):
    at: datetime
    actor: str | None
    changes: dict[str, dict[str, Any]]


def _settings(session: Session, clinic: Clinic, defaults: Defaults) -> ClinicSettingsPublic:
    people = people_of(session, clinic)
    sender = sms_sender_of(session, clinic, defaults)
    warning = missing_warning(clinic, len(people))
    values: dict[str, Any] = {
        name: getattr(clinic, name) for name in ClinicSettingsPublic.model_fields
        if hasattr(clinic, name)
    }  # fmt: skip
    values.update({name: f"{value:%H:%M}" for name, value in values.items()
                   if isinstance(value, time)})  # fmt: skip
    return ClinicSettingsPublic(
        **values,
        clinic_id=clinic.id or 0,
        sender=sender.address if sender else None,
        sender_rate_per_second=sender.rate_per_second if sender else None,
        sender_burst=sender.burst if sender else None,
        oncall=[OnCallPerson(name=p.name, phone=p.phone, email=p.email, page_by=p.page_by)
                for p in people],
        warnings=[warning] if warning else [],
    )  # fmt: skip


@router.get(
    "/{clinic_id}/settings", response_model=ClinicSettingsPublic, responses=errors.NOT_FOUND
)
def get_settings(
    clinic_id: DbId, session: SessionDep, principal: ClinicAdminDep, settings: SettingsDep
) -> ClinicSettingsPublic:
    """Every setting a clinic admin may change, with the on-call list in order."""
    clinic = clinic_for(session, principal, clinic_id)
    return _settings(session, clinic, Defaults.from_settings(settings))


@router.patch(
    "/{clinic_id}/settings",
    response_model=ClinicSettingsPublic,
    responses={**errors.NOT_FOUND, **errors.CONFLICT},
)
def patch_settings(
    clinic_id: DbId,
    body: ClinicSettingsUpdate,
    session: SessionDep,
    principal: ClinicAdminDep,
    settings: SettingsDep,
    now: NowDep,
) -> ClinicSettingsPublic:
    """Change the settings given; unsent messages are re-planned when quiet hours, the
    night window or the sender rate change (never a sent or claimed one)."""
    clinic = clinic_for(session, principal, clinic_id)
    for name in body.model_fields_set:
        if getattr(body, name) is None:
            raise invalid(name, "must not be null: leave it out to keep the current value")
    changes = _changes(body)
    rule = SenderRule(may_share=principal.role == Role.ADMIN, default_sender=settings.twilio_from)
    try:
        result = change_settings(session, clinic, changes, actor=principal.label, now=now,
                                 daily_cap=settings.patient_daily_cap,
                                 sender_rule=rule)  # fmt: skip
    except ClinicError as exc:
        raise invalid(exc.field, exc.message) from None
    session.flush()
    public = _settings(session, clinic, Defaults.from_settings(settings))
    public.changed = result.changed
    if result.replanned is not None:
        public.replanned = ReplanPublic(**result.replanned.as_dict())
    return public


def _changes(body: ClinicSettingsUpdate) -> ClinicChanges:
    values = body.model_dump(exclude={"oncall"}, exclude_none=True)
    values.update({name: time.fromisoformat(value) for name, value in values.items()
                   if name in _TIMES})  # fmt: skip
    people = None
    if body.oncall is not None:
        people = [OnCall(p.name, p.phone, p.email, p.page_by) for p in body.oncall]
    return ClinicChanges(**values, oncall=people)


_TIMES = ("quiet_start", "quiet_end", "night_start", "night_end", "reply_day_start",
          "reply_day_end", "reply_night_due")  # fmt: skip


@router.get(
    "/{clinic_id}/settings/history",
    response_model=list[SettingsChangePublic],
    responses=errors.NOT_FOUND,
)
def settings_history(
    clinic_id: DbId,
    session: SessionDep,
    principal: ClinicAdminDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[SettingsChangePublic]:
    """Who changed which setting, from what to what, newest first."""
    clinic = clinic_for(session, principal, clinic_id)
    query = (
        select(AuditLog)
        .where(AuditLog.clinic_id == clinic.id, AuditLog.action == "clinic.update")
        .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
        .limit(limit)
    )
    return [
        SettingsChangePublic(at=row.at, actor=row.actor, changes=_changes_of(row))
        for row in session.exec(query)
    ]


def _changes_of(row: AuditLog) -> dict[str, dict[str, Any]]:
    """Entries from before old and new values were recorded name the settings only."""
    detail = row.detail or {}
    if "changes" in detail:
        return dict(detail["changes"])
    return {name: {"from": None, "to": None} for name in detail.get("changed", [])}
