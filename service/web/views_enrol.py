"""Enrolling one patient from a form, with every problem named next to its field.

Validation and enrolment are the domain's (service.patients, service.enrollment,
service.csv_import.parse_procedure_at); this module maps form fields to them and
their errors back to fields.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select

from service import enrollment
from service.api.deps import SessionDep, SettingsDep
from service.api.routers.plans import CatalogDep, RendererDep
from service.audit import record_audit
from service.config import Settings
from service.csv_import import parse_procedure_at
from service.db.models import Clinic, Patient
from service.db.types import utcnow
from service.domain import ActorType, parse_id
from service.patients import CleanPatient, PatientError, PatientInput, clean_patient, find_or_create
from service.plans.catalog import PlanCatalog
from service.plans.model import Plan, PlanError, UnknownPlan
from service.plans.signoffs import unsigned_warning
from service.rendering import Renderer
from service.web.deps import CsrfDep, StaffDep, Viewer, WebRoute, page
from service.web.forms import FormData, FormDep

router = APIRouter(route_class=WebRoute, include_in_schema=False)
LANGUAGES = (("en", "English"), ("es", "Español"))


def clinic_choices(session: Session, viewer: Viewer) -> list[Clinic]:
    stmt = select(Clinic).order_by(col(Clinic.name))
    if viewer.clinic_id is not None:
        stmt = stmt.where(Clinic.id == viewer.clinic_id)
    return list(session.exec(stmt))


def chosen_clinic(session: Session, viewer: Viewer, form: FormData) -> Clinic | None:
    wanted = viewer.clinic_id
    if wanted is None:
        wanted = parse_id(form.get("clinic_id"))
    clinic = session.get(Clinic, wanted) if wanted is not None else None
    if clinic is None or not viewer.can_see(clinic.id):
        form.error("clinic_id", "Choose the clinic this patient belongs to.")
        return None
    return clinic


def _form_page(
    request: Request, session: Session, viewer: Viewer, catalog: PlanCatalog, form: FormData
) -> Response:
    return page(
        request,
        "enrol.html",
        viewer,
        form=form,
        plans=catalog.all(),
        unsigned=[p for p in catalog.all() if unsigned_warning(session, p)],
        clinics=clinic_choices(session, viewer),
        languages=LANGUAGES,
        status_code=422 if form.errors else 200,
    )


@router.get("/app/enrol")
def enrol_form(
    request: Request, session: SessionDep, viewer: StaffDep, catalog: CatalogDep
) -> Response:
    defaults = {"language": "en", "sms_consent": "on", "email_consent": "on"}
    return _form_page(request, session, viewer, catalog, FormData(defaults, {}))


@router.post("/app/enrol", dependencies=[CsrfDep])
def enrol_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    viewer: StaffDep,
    catalog: CatalogDep,
    renderer: RendererDep,
    form: FormDep,
) -> Response:
    now = utcnow()
    clinic = chosen_clinic(session, viewer, form)
    clean = _clean(form, clinic)
    plan = _plan(form, catalog, clean)
    when = _when(form, clean, clinic, now)
    if form.errors or clinic is None or clean is None or plan is None or when is None:
        return _form_page(request, session, viewer, catalog, form)
    try:
        result = _enrol(session, settings, renderer, viewer, clinic, clean, plan, when, now)
    except enrollment.EnrolError as exc:
        form.error(exc.field if exc.field in FIELDS else "plan", exc.message)
        session.rollback()
        return _form_page(request, session, viewer, catalog, form)
    except PlanError as exc:
        form.error("plan", str(exc))
        session.rollback()
        return _form_page(request, session, viewer, catalog, form)
    done = "enrolled" if result.created else "already"
    if result.created and result.shares_phone_with:
        done = "enrolled_shared"  # the patient page names the others on the number
    if result.created and when < now:
        done = "enrolled_late"
    target = f"/app/patients/{result.enrollment.patient_id}?done={done}"
    return RedirectResponse(target, status_code=303)


FIELDS = (
    "clinic_id", "first_name", "last_name", "phone", "email", "timezone", "language",
    "external_ref", "plan", "procedure_at", "reason",
)  # fmt: skip


def _clean(form: FormData, clinic: Clinic | None) -> CleanPatient | None:
    if clinic is None:
        return None
    data = PatientInput(
        first_name=form.get("first_name"),
        last_name=form.get("last_name"),
        phone=form.get("phone") or None,
        email=form.get("email") or None,
        timezone=form.get("timezone") or None,
        language=form.get("language") or "en",
        external_ref=form.get("external_ref") or None,
        sms_consent=form.flag("sms_consent"),
        email_consent=form.flag("email_consent"),
        consent_source="web",
    )
    try:
        return clean_patient(data, clinic=clinic)
    except PatientError as exc:
        form.error(exc.field if exc.field in FIELDS else "first_name", exc.message)
        return None


def _plan(form: FormData, catalog: PlanCatalog, clean: CleanPatient | None) -> Plan | None:
    try:
        plan = catalog.get(form.get("plan"))
    except UnknownPlan:
        form.error("plan", "Choose one of the plans in the list.")
        return None
    if clean is not None and clean.language not in plan.languages:
        form.error("language", f"{plan.title} has no messages in this language: "
                               f"choose one of {', '.join(plan.languages)}.")  # fmt: skip
    return plan


def _when(
    form: FormData, clean: CleanPatient | None, clinic: Clinic | None, now: datetime
) -> datetime | None:
    zone = clean.timezone if clean else (clinic.timezone if clinic else "UTC")
    try:
        return parse_procedure_at(form.get("procedure_at"), zone, now)
    except enrollment.EnrolError as exc:
        form.error("procedure_at", exc.message)
        return None


def _enrol(
    session: Session,
    settings: Settings,
    renderer: Renderer,
    viewer: Viewer,
    clinic: Clinic,
    clean: CleanPatient,
    plan: Plan,
    when: datetime,
    now: datetime,
) -> enrollment.EnrolResult:
    patient = _patient(session, viewer, clinic, clean, now)
    return enrollment.enrol(
        session,
        clinic=clinic,
        patient=patient,
        plan=plan,
        procedure_at=when,
        now=now,
        actor=viewer.principal.label,
        daily_cap=settings.patient_daily_cap,
        renderer=renderer,
        require_signoff=settings.require_plan_signoff,
    )


def _patient(
    session: Session, viewer: Viewer, clinic: Clinic, clean: CleanPatient, now: datetime
) -> Patient:
    patient, created = find_or_create(session, clinic=clinic, clean=clean, now=now)
    if created:
        record_audit(
            session,
            actor_type=ActorType.USER,
            actor=viewer.principal.label,
            action="patient.create",
            entity_type="patient",
            entity_id=patient.id,
            clinic_id=clinic.id,
        )
    return patient
