"""Plans for admins: each version's clinical review document and its sign-offs."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from service.api.deps import SessionDep, SettingsDep
from service.api.routers.plans import CatalogDep, RendererDep
from service.plans import signoffs
from service.plans.export import export_html
from service.plans.model import Plan, PlanError
from service.web.deps import AdminDep, CsrfDep, NotFound, WebRoute, page
from service.web.forms import FormData, FormDep
from service.web.templating import SECURITY_HEADERS

router = APIRouter(route_class=WebRoute, include_in_schema=False)
# The review document is one static page with its own <style> and no script at all.
DOCUMENT_HEADERS = SECURITY_HEADERS | {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
}


@router.get("/app/plans")
def plans_page(
    request: Request, session: SessionDep, viewer: AdminDep, catalog: CatalogDep
) -> Response:
    return _page(request, session, viewer, catalog, FormData({}, {}))


def _page(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    catalog: CatalogDep,
    form: FormData,
) -> Response:
    rows = [(plan, signoffs.signoffs_of(session, plan)) for plan in catalog.all()]
    return page(
        request, "plans.html", viewer, rows=rows, form=form,
        status_code=422 if form.errors else 200,
    )  # fmt: skip


@router.get("/app/plans/{key}/review")
def review_document(
    session: SessionDep,
    viewer: AdminDep,
    catalog: CatalogDep,
    renderer: RendererDep,
    settings: SettingsDep,
    key: str,
) -> Response:
    plan = _plan(catalog, key)
    html = export_html(
        plan,
        templates_dir=settings.templates_dir,
        renderer=renderer,
        signoffs=signoffs.signoff_lines(session, plan),
    )
    return HTMLResponse(html, headers=DOCUMENT_HEADERS)


@router.post("/app/plans/signoff", dependencies=[CsrfDep])
def record_signoff(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    form: FormDep,
) -> Response:
    """A clinician's sign-off of the current version of the chosen plan."""
    plan = _chosen(catalog, form)
    signed_on = _date(form)
    if plan is not None and not form.errors:
        try:
            signoffs.record_signoff(
                session,
                templates_dir=settings.templates_dir,
                key=plan.key,
                version=plan.version,
                signer_name=form.get("name"),
                signer_role=form.get("role"),
                signed_on=signed_on,
                note=form.get("note") or None,
                actor=viewer.principal.label,
            )
        except signoffs.SignoffError as exc:
            field, _, message = str(exc).partition(": ")
            form.error(field, message)
    if form.errors:
        session.rollback()
        return _page(request, session, viewer, catalog, form)
    return RedirectResponse("/app/plans?done=signedoff", status_code=303)


def _plan(catalog: CatalogDep, key: str) -> Plan:
    try:
        return catalog.get(key)
    except PlanError:
        raise NotFound("There is no such plan.") from None


def _chosen(catalog: CatalogDep, form: FormData) -> Plan | None:
    try:
        return catalog.get(form.get("plan"))
    except PlanError:
        form.error("plan", "Choose one of the plans in the list.")
        return None


def _date(form: FormData) -> date | None:
    text = form.get("date")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        form.error("date", "Give the date as YYYY-MM-DD.")
        return None
