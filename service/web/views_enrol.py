"""Enrolling one patient from a form, with every problem named next to its field.

Validation and enrolment are the domain's (service.patients, service.enrollment,
service.csv_import.parse_procedure_at); this module maps form fields to them and
their errors back to fields.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import available_timezones

import phonenumbers
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select

from service import enrollment
from service.api.deps import SessionDep, SettingsDep
from service.api.routers.plans import CatalogDep, RendererDep
from service.audit import record_audit
from service.config import Settings
from service.country_names import COUNTRY_NAMES
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
from service.words import fold

router = APIRouter(route_class=WebRoute, include_in_schema=False)
LANGUAGES = (("en", "English"), ("es", "Spanish (español)"))


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
    clinics = clinic_choices(session, viewer)
    own = clinics[0] if viewer.clinic_id is not None and clinics else None
    region = own.default_region if own else "US"
    return page(
        request,
        "enrol.html",
        viewer,
        form=form,
        plans=catalog.all(),
        unsigned=[p for p in catalog.all() if unsigned_warning(session, p)],
        clinics=clinics,
        languages=LANGUAGES,
        countries=countries(),
        default_country_name=COUNTRY_NAMES.get(region, region),
        zones=time_zones(),
        clinic_label=own.name if own else "the clinic",
        labels=FIELD_LABELS,
        status_code=422 if form.errors else 200,
    )


@lru_cache(maxsize=1)
def countries() -> list[tuple[str, str, int]]:
    """(code, name, dialling code) for every country a number can be parsed for, by name."""
    rows = [(code, name, phonenumbers.country_code_for_region(code))
            for code, name in COUNTRY_NAMES.items()]  # fmt: skip
    return sorted(rows, key=lambda row: fold(row[1]))


@lru_cache(maxsize=1)
def time_zones() -> list[str]:
    """The IANA zones people live in ("Europe/London"), for the form's suggestions (the
    legacy aliases such as "EST" or "Etc/GMT+5" are still accepted, not suggested)."""
    areas = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/",
             "Europe/", "Indian/", "Pacific/")  # fmt: skip
    return sorted(z for z in available_timezones() if z.startswith(areas))


@router.get("/app/enrol")
def enrol_form(
    request: Request, session: SessionDep, viewer: StaffDep, catalog: CatalogDep
) -> Response:
    # Consent boxes start unticked: staff tick what the patient said yes to.
    return _form_page(request, session, viewer, catalog, FormData({"language": "en"}, {}))


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


# How the error summary names each field (as its label on the form does).
FIELD_LABELS = {
    "clinic_id": "Clinic", "first_name": "First name", "last_name": "Last name",
    "phone": "Mobile phone", "country": "Phone number's country", "email": "Email",
    "timezone": "Time zone", "language": "Language", "external_ref": "Clinic record id",
    "sms_consent": "Consent", "plan": "Aftercare plan",
    "procedure_at": "Procedure date and time",
}  # fmt: skip
FIELDS = (
    "clinic_id", "first_name", "last_name", "phone", "country", "email", "timezone",
    "language", "external_ref", "sms_consent", "plan", "procedure_at", "reason",
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
        country=form.get("country") or None,
    )
    try:
        clean = clean_patient(data, clinic=clinic)
    except PatientError as exc:
        for problem in exc.problems:
            form.error(problem.field if problem.field in FIELDS else "first_name",
                       _sentence(problem.message))  # fmt: skip
        _consent(form, data)
        return None
    _consent(form, data)
    return clean


def _consent(form: FormData, data: PatientInput) -> None:
    """Nothing can be sent without consent to at least one channel given: say so now,
    not when the first message fails."""
    texts = data.sms_consent and bool((data.phone or "").strip())
    emails = data.email_consent and bool((data.email or "").strip())
    if not texts and not emails and ((data.phone or "").strip() or (data.email or "").strip()):
        form.error("sms_consent", "Tick what the patient agreed to: without consent to texts "
                                  "or emails, no message can be sent.")  # fmt: skip


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


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
