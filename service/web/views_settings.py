"""The clinic settings page: a clinic admin changes their clinic's settings (admins
choose the clinic), sees what each one does, and who changed what recently.

The form goes through `service.clinic_settings` like the REST API: checked whole (each
problem shown next to its field, nothing saved), audited with old and new values, and
applied to what is not sent yet. The on-call list has its own page (`/app/oncall`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from service.api.deps import SessionDep, SettingsDep
from service.clinic_settings import change_settings
from service.clinics import ClinicError, SenderRule, missing_warning, oncall_list
from service.config import Settings
from service.db.models import Clinic
from service.db.types import utcnow
from service.domain import PAGE_DETAILS, Role
from service.senders import Defaults, sms_sender_of
from service.web.deps import ClinicAdminDep, CsrfDep, Viewer, WebRoute, page
from service.web.forms import FormData, FormDep
from service.web.settings_data import LABELS, changes_from, form_values, recent_changes
from service.web.views_enrol import clinic_choices
from service.web.views_oncall import clinic_of

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PAGE_DETAIL_CHOICES = {"full": "Full (name, callback, procedure, sign)",
                       "minimal": "Minimal (callback number, link)"}  # fmt: skip
assert set(PAGE_DETAIL_CHOICES) == set(PAGE_DETAILS)


def _page(
    request: Request, session: Session, settings: Settings, viewer: Viewer, clinic: Clinic,
    form: FormData,
) -> Response:  # fmt: skip
    people = oncall_list(session, clinic)
    return page(
        request,
        "settings.html",
        viewer,
        form=form,
        clinic=clinic,
        clinics=clinic_choices(session, viewer),
        sender=sms_sender_of(session, clinic, Defaults.from_settings(settings)),
        oncall=people,
        oncall_warning=missing_warning(clinic, len(people)),
        page_details=PAGE_DETAIL_CHOICES,
        changes=recent_changes(session, clinic),
        labels=LABELS,
        status_code=422 if form.errors else 200,
    )


@router.get("/app/settings")
def settings_form(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: ClinicAdminDep,
    clinic_id: str = "",
) -> Response:  # fmt: skip
    clinic = clinic_of(session, viewer, clinic_id)
    sender = sms_sender_of(session, clinic, Defaults.from_settings(settings))
    form = FormData(form_values(clinic, sender), {})
    return _page(request, session, settings, viewer, clinic, form)


@router.post("/app/settings", dependencies=[CsrfDep])
def settings_save(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: ClinicAdminDep,
    form: FormDep,
) -> Response:  # fmt: skip
    clinic = clinic_of(session, viewer, form.get("clinic_id"))
    sender = sms_sender_of(session, clinic, Defaults.from_settings(settings))
    changes = changes_from(form, clinic, sender)
    if form.errors:
        return _page(request, session, settings, viewer, clinic, form)
    rule = SenderRule(may_share=viewer.role == Role.ADMIN, default_sender=settings.twilio_from)
    try:
        change_settings(session, clinic, changes, actor=viewer.principal.label, now=utcnow(),
                        daily_cap=settings.patient_daily_cap, sender_rule=rule)  # fmt: skip
    except ClinicError as exc:
        session.rollback()
        form.error(exc.field if exc.field in LABELS else "name",
                   f"{LABELS.get(exc.field, exc.field)}: {exc.message}.")  # fmt: skip
        session.refresh(clinic)
        return _page(request, session, settings, viewer, clinic, form)
    return RedirectResponse(f"/app/settings?clinic_id={clinic.id}&done=settings", status_code=303)
