"""Staff pages: patient list and search, and a patient's timeline."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.api.deps import SessionDep, SettingsDep
from service.db.models import Patient
from service.fallback import email_reachable
from service.web.access import visible
from service.web.deps import StaffDep, WebRoute, page
from service.web.explain import explain
from service.web.patient_data import patient_timeline, search_patients
from service.web.people import names_for

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/app/patients")
def patient_list(
    request: Request, session: SessionDep, viewer: StaffDep, q: str = "", before: int | None = None
) -> Response:
    rows, next_cursor = search_patients(
        session, clinic_id=viewer.clinic_id, query=q[:100], before_id=before
    )
    return page(
        request,
        "patients.html",
        viewer,
        rows=rows,
        q=q,
        next_cursor=next_cursor,
        first=before is None,
    )


@router.get("/app/patients/{patient_id}")
def patient_page(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: StaffDep, patient_id: int
) -> Response:
    patient = visible(session, viewer, Patient, patient_id)
    timeline = patient_timeline(session, patient)
    people = names_for(session, timeline.actors())
    simulate = settings.environment != "production"  # service.web.views_simulate
    return page(request, "patient.html", viewer, t=timeline, explain=explain, people=people,
                simulate=simulate, late_steps=timeline.late_steps(),
                safety_note=_safety_note(patient))  # fmt: skip


def _safety_note(patient: Patient) -> str:
    """Whether red-flag reminders still reach a patient who gets no texts."""
    if email_reachable(patient):
        return "Red-flag reminders and safety messages go by email instead."
    return "There is no email we may use: red-flag reminders cannot reach this patient. Phone them."
