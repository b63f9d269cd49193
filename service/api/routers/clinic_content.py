"""A clinic's own wording of plan messages over REST: read the versions, replace or
restore one message's text (linted: a refused version is a 422 naming the step, channel,
language and problem of each error), and record the clinical sign-off of a version.
A clinic's administrators (their own clinic: another's is a 404) and admins. (The live
preview is the web editor's: `POST /app/content/{plan}/preview`.)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field
from sqlmodel import Session

from service import clinic_content
from service.accounts import Principal
from service.api import errors
from service.api.deps import NOT_FOUND, ClinicAdminDep, DbId, SessionDep, ensure_visible
from service.api.routers.plans import CatalogDep, RendererDep
from service.clinic_content import ContentError, ContentRefused, Saved
from service.db.models import Clinic, ClinicContentVersion
from service.plans.content_store import content_signoffs, content_versions, signed_content
from service.plans.lint_checks import Finding
from service.plans.model import Plan, PlanError
from service.plans.overrides import SOURCE_MAX, OverrideError, Slot, slot_of

router = APIRouter(
    prefix="/api/v1/clinics/{clinic_id}/content",
    tags=["clinic texts"],
    responses={**errors.AUTHENTICATED, **errors.NOT_FOUND},
)
EditorDep = ClinicAdminDep
Word = Annotated[str, Path(max_length=64)]
TEXT_MAX = SOURCE_MAX * 2  # longer is refused by the linter, naming the limit


class SignoffPublic(BaseModel):
    signer_name: str
    signer_role: str
    signed_on: date
    recorded_at: datetime
    recorded_by: str


class VersionPublic(BaseModel):
    version: int
    plan_version: int
    sha256: str = Field(description="What a sign-off names: the exact content reviewed")
    in_use_for_new_enrolments: bool
    frozen: str | None = Field(description="Why it may no longer change (null: a draft)")
    note: str | None
    texts: dict[str, str] = Field(description="Template name -> the clinic's text")
    updated_at: datetime
    updated_by: str
    signoffs: list[SignoffPublic]


class PlanTextsPublic(BaseModel):
    clinic_id: int
    plan: str
    plan_version: int
    versions: list[VersionPublic] = Field(description="Newest first")


class SavedPublic(BaseModel):
    change: Literal["created", "updated", "unchanged"]
    version: VersionPublic
    warnings: list[str]


class TextInput(errors.Input):
    text: str | None = Field(
        max_length=TEXT_MAX,
        description="A Jinja2 text, as in the plan's files; null: the plan's own text again",
    )
    note: str | None = Field(default=None, max_length=500, description="What changed")


class SignoffInput(errors.Input):
    sha256: str = Field(max_length=64, description="The version's sha256 the clinician reviewed")
    name: str = Field(max_length=200)
    role: str = Field(max_length=120)
    signed_on: date | None = None
    note: str | None = Field(default=None, max_length=1000)


def _clinic(session: Session, principal: Principal, clinic_id: int) -> Clinic:
    ensure_visible(principal, clinic_id)
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return clinic


def _plan(catalog: CatalogDep, key: str) -> Plan:
    try:
        return catalog.get(key)
    except PlanError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None


def _slot(plan: Plan, step: str, channel: str, language: str) -> Slot:
    try:
        return slot_of(plan, step, channel, language)
    except OverrideError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None


def _version(session: Session, clinic: Clinic, plan: Plan, row: ClinicContentVersion,
             live: ClinicContentVersion | None) -> VersionPublic:  # fmt: skip
    return VersionPublic(
        version=row.version, plan_version=row.plan_version, sha256=row.sha256,
        in_use_for_new_enrolments=live is not None and live.id == row.id,
        frozen=clinic_content.frozen_reason(session, row), note=row.note,
        texts=dict(row.templates), updated_at=row.updated_at, updated_by=row.updated_by,
        signoffs=[SignoffPublic.model_validate(s, from_attributes=True)
                  for s in content_signoffs(session, row)],
    )  # fmt: skip


def _texts(session: Session, clinic: Clinic, plan: Plan) -> PlanTextsPublic:
    live = signed_content(session, clinic.id, plan)  # type: ignore[arg-type]
    rows = content_versions(session, clinic.id, plan.key)  # type: ignore[arg-type]
    return PlanTextsPublic(
        clinic_id=clinic.id or 0, plan=plan.key, plan_version=plan.version,
        versions=[_version(session, clinic, plan, row, live) for row in rows],
    )  # fmt: skip


def refused(findings: list[Finding]) -> HTTPException:
    """A 422 naming, for each error, the message (step, channel, language) and problem."""
    detail = [
        {"field": "text", "msg": str(f), "type": "lint", "loc": ["body", "text"],
         "step": f.step, "channel": f.channel, "language": f.language, "template": f.template}
        for f in findings
    ]  # fmt: skip
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def _content_error(exc: ContentError) -> HTTPException:
    if isinstance(exc, ContentRefused):
        return refused(exc.findings)
    if exc.problem == "missing":
        return HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    if exc.problem == "conflict":
        return HTTPException(status.HTTP_409_CONFLICT, f"{exc.field}: {exc.message}")
    field = {"name": "name", "role": "role", "date": "signed_on"}.get(exc.field, exc.field)
    detail = [{"field": field, "msg": exc.message, "type": "value_error", "loc": ["body", field]}]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


@router.get("/{plan}", response_model=PlanTextsPublic)
def read_texts(clinic_id: DbId, plan: Word, session: SessionDep, principal: EditorDep,
               catalog: CatalogDep) -> PlanTextsPublic:  # fmt: skip
    """The clinic's versions of a plan's texts, newest first, and which one new
    enrolments get."""
    clinic = _clinic(session, principal, clinic_id)
    return _texts(session, clinic, _plan(catalog, plan))


def _saved(session: Session, clinic: Clinic, plan: Plan, saved: Saved) -> SavedPublic:
    live = signed_content(session, clinic.id, plan)  # type: ignore[arg-type]
    return SavedPublic(change=saved.change, version=_version(session, clinic, plan, saved.row,
                                                             live),
                       warnings=[str(w) for w in saved.warnings])  # fmt: skip


@router.put(
    "/{plan}/texts/{step}/{channel}/{language}",
    response_model=SavedPublic,
    responses=errors.CONFLICT,
)
def put_text(
    clinic_id: DbId, plan: Word, step: Word, channel: Word, language: Word, body: TextInput,
    session: SessionDep, principal: EditorDep, catalog: CatalogDep, renderer: RendererDep,
) -> SavedPublic:  # fmt: skip
    """Replace one message's text in the clinic's draft (or a new version when the latest
    is signed off or in use); `text: null` (or the plan's own text) restores the plan's.
    Linted first: a failing version is refused (422)."""
    return _save(session, principal, clinic_id, _plan(catalog, plan), (step, channel, language),
                 body.text, body.note, renderer)  # fmt: skip


def _save(session: Session, principal: Principal, clinic_id: int, plan: Plan,
          where: tuple[str, str, str], text: str | None, note: str | None,
          renderer: RendererDep) -> SavedPublic:  # fmt: skip
    clinic = _clinic(session, principal, clinic_id)
    slot = _slot(plan, *where)
    try:
        saved = clinic_content.save_text(
            session, clinic_id=clinic_id, plan=plan, step=slot.step.key,
            channel=slot.channel.value, language=slot.language, text=text,
            actor=principal.label, renderer=renderer, note=note,
        )  # fmt: skip
    except ContentError as exc:
        raise _content_error(exc) from None
    return _saved(session, clinic, plan, saved)


@router.post(
    "/{plan}/versions/{version}/signoff",
    response_model=PlanTextsPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors.CONFLICT,
)
def signoff(
    clinic_id: DbId, plan: Word, version: DbId, body: SignoffInput, session: SessionDep,
    principal: EditorDep, catalog: CatalogDep, renderer: RendererDep,
) -> PlanTextsPublic:  # fmt: skip
    """A clinician's sign-off of a version: from now on new enrolments of the clinic into
    the plan get it. 409 when the version changed since `sha256` was read."""
    clinic = _clinic(session, principal, clinic_id)
    found = _plan(catalog, plan)
    try:
        clinic_content.record_content_signoff(
            session, clinic_id=clinic_id, plan=found, version=version, sha256=body.sha256,
            signer_name=body.name, signer_role=body.role, signed_on=body.signed_on,
            note=body.note, actor=principal.label, renderer=renderer,
        )  # fmt: skip
    except ContentError as exc:
        raise _content_error(exc) from None
    return _texts(session, clinic, found)
