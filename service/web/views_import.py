"""CSV import from the browser: the domain's importer, with a report line per bad row."""

from __future__ import annotations

import io

from fastapi import APIRouter, Request, Response
from sqlmodel import Session

from service import csv_import
from service.api.deps import SessionDep, SettingsDep
from service.api.routers.plans import CatalogDep, RendererDep
from service.db.types import utcnow
from service.plans.catalog import PlanCatalog
from service.web.deps import CsrfDep, StaffDep, Viewer, WebRoute, page
from service.web.forms import FormData, FormDep
from service.web.views_enrol import chosen_clinic, clinic_choices

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MAX_BYTES = 5 * 1024 * 1024  # about 40,000 rows; larger files go through `aftercare import`


def _page(
    request: Request,
    session: Session,
    viewer: Viewer,
    catalog: PlanCatalog,
    form: FormData,
    report: csv_import.ImportReport | None = None,
) -> Response:
    return page(
        request,
        "import.html",
        viewer,
        form=form,
        report=report,
        plans=catalog.all(),
        clinics=clinic_choices(session, viewer),
        columns=csv_import.COLUMNS,
        status_code=422 if form.errors else 200,
    )


@router.get("/app/import")
def import_form(
    request: Request, session: SessionDep, viewer: StaffDep, catalog: CatalogDep
) -> Response:
    return _page(request, session, viewer, catalog, FormData({}, {}))


@router.post("/app/import", dependencies=[CsrfDep])
def import_upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    viewer: StaffDep,
    catalog: CatalogDep,
    renderer: RendererDep,
    form: FormDep,
) -> Response:
    clinic = chosen_clinic(session, viewer, form)
    text = _upload_text(form)
    if clinic is None or text is None:
        return _page(request, session, viewer, catalog, form)
    try:
        report = csv_import.import_rows(
            session,
            clinic=clinic,
            catalog=catalog,
            rows=csv_import.read_rows(io.StringIO(text, newline="")),
            now=utcnow(),
            actor=viewer.principal.label,
            default_plan=form.get("plan") or None,
            daily_cap=settings.patient_daily_cap,
            renderer=renderer,
            require_signoff=settings.require_plan_signoff,
        )
    except csv_import.CsvFormatError as exc:
        session.rollback()  # nothing of a file that cannot be read is kept
        form.error("file", f"This file cannot be imported: {exc}")
        return _page(request, session, viewer, catalog, form)
    return _page(request, session, viewer, catalog, form, report)


def _upload_text(form: FormData) -> str | None:
    upload = form.files.get("file")
    raw = upload.file.read(MAX_BYTES + 1) if upload is not None else b""
    if not raw:
        form.error("file", "Choose a CSV file to import.")
        return None
    if len(raw) > MAX_BYTES:
        form.error("file", "The file is over 5 MB: split it, or use `aftercare import`.")
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.error("file", "The file is not UTF-8 text: save it as 'CSV UTF-8' and retry.")
        return None
