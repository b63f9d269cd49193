"""A clinic's own wording of plan messages, in the web app: the plans and their
versions, the editor (the plan's text beside the clinic's, a live preview with the
clinic's name and number), a save that the linter may refuse, and the clinical sign-off.

A clinic's administrators (`clinic_admin`) edit and sign off their own clinic's texts;
admins choose the clinic. Another clinic's texts are a 404, like a missing page.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlmodel import Session

from service import clinic_content
from service.api.deps import SessionDep
from service.api.routers.plans import CatalogDep, RendererDep
from service.clinic_content import ContentError, ContentRefused
from service.db.models import Clinic
from service.db.types import utcnow
from service.domain import parse_id
from service.plans.content_store import content_signoffs, with_content
from service.plans.export import SignoffLine, export_html
from service.plans.lint_checks import Finding
from service.plans.model import Plan, PlanError
from service.plans.override_preview import Preview, preview_text
from service.plans.overrides import OverrideError, Slot, known_variables, slot_named, slot_of
from service.rendering import Renderer
from service.web import content_data as data
from service.web.deps import ClinicAdminDep, CsrfDep, NotFound, Viewer, WebRoute, page
from service.web.forms import FormData, FormDep
from service.web.views_enrol import clinic_choices
from service.web.views_plans import DOCUMENT_HEADERS

router = APIRouter(route_class=WebRoute, include_in_schema=False)
EditorDep = ClinicAdminDep  # a clinic's administrators (their own clinic) and admins
NOTICES = {
    "created": "Saved as a new version: new enrolments use it once a clinician signs it off.",
    "updated": "Draft saved: new enrolments use it once a clinician signs it off.",
    "unchanged": "Nothing changed: the texts are the same as the latest version's.",
    "signedoff": "Sign-off recorded: patients enrolled from now on get these texts.",
}
HEADS_UP = "Patients already enrolled keep the texts they were enrolled with."


def _clinic(session: Session, viewer: Viewer, clinic_id: str, *, posted: bool = False) -> Clinic:
    """The viewer's clinic; an admin's choice (the first clinic when a page is opened
    without one, never a guess for a form that changes something)."""
    wanted = viewer.clinic_id
    if wanted is None:
        ids = [c.id for c in clinic_choices(session, viewer)]
        fallback = None if posted else (ids[0] if ids else None)
        wanted = parse_id(clinic_id) if parse_id(clinic_id) in ids else fallback
    clinic = session.get(Clinic, wanted) if wanted is not None else None
    if clinic is None or not viewer.can_see(clinic.id):
        raise NotFound("There is no clinic to write texts for.")
    return clinic


def _plan(catalog: CatalogDep, key: str) -> Plan:
    try:
        return catalog.get(key)
    except PlanError:
        raise NotFound("There is no such plan.") from None


def _slot(plan: Plan, step: str, channel: str, language: str) -> Slot:
    try:
        return slot_of(plan, step, channel, language)
    except OverrideError:
        raise NotFound("This plan sends no such message.") from None


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("done", ""))


def _home(plan: Plan, clinic: Clinic, done: str = "") -> str:
    return f"/app/content/{plan.key}?clinic_id={clinic.id}" + (f"&done={done}" if done else "")


@router.get("/app/content")
def content_list(
    request: Request, session: SessionDep, viewer: EditorDep, catalog: CatalogDep,
    clinic_id: str = "",
) -> Response:  # fmt: skip
    clinic = _clinic(session, viewer, clinic_id)
    rows = data.plan_rows(session, clinic, catalog)
    return page(request, "content.html", viewer, clinic=clinic, rows=rows,
                clinics=clinic_choices(session, viewer))  # fmt: skip


@router.get("/app/content/{key}")
def content_plan(
    request: Request, session: SessionDep, viewer: EditorDep, catalog: CatalogDep, key: str,
    clinic_id: str = "",
) -> Response:  # fmt: skip
    clinic = _clinic(session, viewer, clinic_id)
    return _plan_page(request, session, viewer, clinic, _plan(catalog, key), FormData({}, {}))


def _plan_page(
    request: Request, session: Session, viewer: Viewer, clinic: Clinic, plan: Plan,
    form: FormData, findings: list[Finding] | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    found = data.versions(session, clinic, plan)
    latest = found[0] if found else None
    signable = latest if latest and latest.current_plan and not latest.signoffs else None
    texts, _ = clinic_content.starting_texts(session, clinic.id, plan)  # type: ignore[arg-type]
    return page(
        request, "content_plan.html", viewer, clinic=clinic, plan=plan, versions=found,
        live=next((version for version in found if version.live), None),
        messages=data.message_rows(plan, texts), signable=signable, form=form,
        problems=data.finding_lines(plan, findings or []), notice=_notice(request),
        heads_up=HEADS_UP, status_code=status_code,
    )  # fmt: skip


@router.get("/app/content/{key}/edit")
def content_edit(
    request: Request, session: SessionDep, viewer: EditorDep, catalog: CatalogDep,
    renderer: RendererDep, key: str, step: str = "", channel: str = "", language: str = "",
    clinic_id: str = "",
) -> Response:  # fmt: skip
    clinic = _clinic(session, viewer, clinic_id)
    plan = _plan(catalog, key)
    slot = _slot(plan, step, channel, language)
    texts, _ = clinic_content.starting_texts(session, clinic.id, plan)  # type: ignore[arg-type]
    text = texts.get(slot.name, plan.templates[slot.name])
    return _editor(request, session, viewer, clinic, plan, slot, renderer, text,
                   FormData({}, {}))  # fmt: skip


def _editor(
    request: Request, session: Session, viewer: Viewer, clinic: Clinic, plan: Plan, slot: Slot,
    renderer: Renderer, text: str, form: FormData, findings: list[Finding] | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    values = data.clinic_values(clinic)
    default = plan.templates[slot.name]
    now = utcnow()
    return page(
        request, "content_edit.html", viewer, clinic=clinic, plan=plan, slot=slot, text=text,
        default=default, reworded=text.strip() != default.strip(),
        default_preview=preview_text(plan, slot, default, clinic=values, renderer=renderer,
                                     now=now),
        preview=preview_text(plan, slot, text, clinic=values, renderer=renderer, now=now),
        variables=sorted(known_variables(plan, slot.step)), partials=_partials(plan, slot),
        channel_name=data.CHANNEL_NAMES[slot.channel], when=data.when_words(slot.step.offset),
        language_name=data.LANGUAGE_NAMES.get(slot.language, slot.language),
        form=form, problems=data.finding_lines(plan, findings or []), heads_up=HEADS_UP,
        status_code=status_code,
    )  # fmt: skip


def _partials(plan: Plan, slot: Slot) -> list[str]:
    ending = f".{slot.channel.value}.{slot.language}.j2"
    return sorted(n for n in plan.templates if n.startswith("_partials/") and n.endswith(ending))


@router.post("/app/content/{key}/edit", dependencies=[CsrfDep])
def content_save(
    request: Request, session: SessionDep, viewer: EditorDep, catalog: CatalogDep,
    renderer: RendererDep, form: FormDep, key: str,
) -> Response:  # fmt: skip
    clinic = _clinic(session, viewer, form.get("clinic_id"), posted=True)
    plan = _plan(catalog, key)
    slot = _slot(plan, form.get("step"), form.get("channel"), form.get("language"))
    text = form.values.get("text", "")
    action = form.get("action")
    if action == "preview":
        return _editor(request, session, viewer, clinic, plan, slot, renderer, text, form)
    try:
        saved = clinic_content.save_text(
            session, clinic_id=clinic.id, plan=plan, step=slot.step.key,  # type: ignore[arg-type]
            channel=slot.channel.value, language=slot.language,
            text=None if action == "default" else text, actor=viewer.principal.label,
            renderer=renderer, note=form.get("note") or None,
        )  # fmt: skip
    except ContentRefused as exc:
        session.rollback()
        return _editor(request, session, viewer, clinic, plan, slot, renderer, text, form,
                       exc.findings, status_code=422)  # fmt: skip
    except ContentError as exc:
        session.rollback()
        form.error("text", exc.message)
        return _editor(request, session, viewer, clinic, plan, slot, renderer, text, form,
                       status_code=409 if exc.problem == "conflict" else 422)  # fmt: skip
    return RedirectResponse(_home(plan, clinic, saved.change), status_code=303)


@router.post("/app/content/{key}/preview", dependencies=[CsrfDep])
def content_preview(
    session: SessionDep, viewer: EditorDep, catalog: CatalogDep, renderer: RendererDep,
    form: FormDep, key: str,
) -> Response:  # fmt: skip
    """The editor's live preview: the typed text rendered for the clinic, as JSON."""
    clinic = _clinic(session, viewer, form.get("clinic_id"), posted=True)
    plan = _plan(catalog, key)
    slot = _slot(plan, form.get("step"), form.get("channel"), form.get("language"))
    values = data.clinic_values(clinic)
    text = form.values.get("text", "")
    preview = preview_text(plan, slot, text, clinic=values, renderer=renderer, now=utcnow())
    return JSONResponse(_preview_json(preview), headers={"Cache-Control": "no-store"})


def _preview_json(preview: Preview) -> dict[str, object]:
    rendered = preview.rendered
    return {
        "ok": rendered is not None,
        "subject": rendered.subject if rendered else None,
        "text": rendered.text if rendered else None,
        "segments": rendered.segments if rendered else None,
        "encoding": preview.encoding,
        "units": preview.units,
        "problems": preview.problems,
        "checks": [{"severity": f.severity, "message": f.message} for f in preview.findings],
    }


@router.post("/app/content/{key}/signoff", dependencies=[CsrfDep])
def content_signoff(
    request: Request, session: SessionDep, viewer: EditorDep, catalog: CatalogDep,
    renderer: RendererDep, form: FormDep, key: str,
) -> Response:  # fmt: skip
    clinic = _clinic(session, viewer, form.get("clinic_id"), posted=True)
    plan = _plan(catalog, key)
    signed_on = _date(form)
    findings: list[Finding] = []
    status_code = 422
    if not form.errors:
        try:
            clinic_content.record_content_signoff(
                session, clinic_id=clinic.id, plan=plan,  # type: ignore[arg-type]
                version=parse_id(form.get("version")) or 0, sha256=form.get("sha256"),
                signer_name=form.get("name"), signer_role=form.get("role"),
                signed_on=signed_on, note=form.get("note") or None,
                actor=viewer.principal.label, renderer=renderer,
            )  # fmt: skip
        except ContentRefused as exc:
            findings = exc.findings
        except ContentError as exc:
            form.error(exc.field, exc.message)
            status_code = 409 if exc.problem == "conflict" else 422
    if form.errors or findings:
        session.rollback()
        return _plan_page(request, session, viewer, clinic, plan, form, findings, status_code)
    return RedirectResponse(_home(plan, clinic, "signedoff"), status_code=303)


def _date(form: FormData) -> date | None:
    text = form.get("date")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        form.error("date", "Give the date as YYYY-MM-DD.")
        return None


@router.get("/app/content/{key}/v{version}/review")
def content_review(
    session: SessionDep, viewer: EditorDep, catalog: CatalogDep, renderer: RendererDep,
    request: Request, key: str, version: str, clinic_id: str = "",
) -> Response:  # fmt: skip
    """The plan as the clinic's patients would receive it with this version: the
    document the clinician reviews before signing off."""
    clinic = _clinic(session, viewer, clinic_id)
    plan = _plan(catalog, key)
    number = parse_id(version) or 0
    try:
        row = clinic_content.find_version(session, clinic.id, plan.key, number)  # type: ignore[arg-type]
        effective = with_content(plan, row)
    except (ContentError, PlanError):
        raise NotFound("There is no such version of this clinic's texts for this plan.") from None
    lines = [
        SignoffLine(
            s.signer_name,
            s.signer_role,
            s.signed_on.isoformat(),
            f"{s.recorded_at:%Y-%m-%d %H:%M} UTC by {s.recorded_by}",
        )
        for s in content_signoffs(session, row)
    ]
    titled = dataclasses.replace(effective, title=f"{plan.title}, {clinic.name} texts v{number}")
    slots = [slot_named(plan, name) for name in row.templates]
    reworded = [(s.step.key, s.channel.value, s.language) for s in slots]
    whose = f"{clinic.name}'s texts, version {number}, written for plan v{row.plan_version}."
    html = export_html(
        titled, templates_dir=request.app.state.settings.templates_dir, renderer=renderer,
        signoffs=lines, reworded=reworded, clinic_texts=whose,
    )  # fmt: skip
    return HTMLResponse(html, headers=DOCUMENT_HEADERS)
