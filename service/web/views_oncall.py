"""The clinic's on-call list: who is paged for an urgent reply, in order, and how.

Staff see their own clinic's list; its clinic admins edit it (admins choose the
clinic). A row with a name but no address for the channel it is paged by is refused
next to that row; an empty list is saved with a warning (urgent pages then reach only
the clinic's main number). Every change is audited with the list before and after.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from service.api.deps import SessionDep
from service.clinics import (
    ClinicChanges,
    ClinicError,
    OnCall,
    missing_warning,
    oncall_list,
    update_clinic,
)
from service.db.models import Clinic
from service.domain import Role, parse_id
from service.web.deps import (
    ClinicAdminDep,
    CsrfDep,
    NotFound,
    StaffDep,
    Viewer,
    WebRoute,
    page,
)
from service.web.forms import FormData, FormDep
from service.web.views_enrol import clinic_choices

router = APIRouter(route_class=WebRoute, include_in_schema=False)
BLANK_ROWS = 2  # empty rows offered below the current list, to add people
MAX_ROWS = 50
EDITORS = (Role.CLINIC_ADMIN, Role.ADMIN)
PAGE_BY_CHOICES = (("both", "Text and email"), ("sms", "Text only"), ("email", "Email only"))


def clinic_of(session: Session, viewer: Viewer, clinic_id: str) -> Clinic:
    """The viewer's clinic; an admin's choice (else the first), 404 for none."""
    wanted = viewer.clinic_id
    if wanted is None:
        choices = clinic_choices(session, viewer)
        ids = [c.id for c in choices]
        wanted = parse_id(clinic_id) if parse_id(clinic_id) in ids else None
        wanted = wanted if wanted is not None else (ids[0] if ids else None)
    clinic = session.get(Clinic, wanted) if wanted is not None else None
    if clinic is None or not viewer.can_see(clinic.id):
        raise NotFound("There is no clinic to show.")
    return clinic


def _row_count(form: FormData) -> int:
    value = form.get("rows")
    return min(parse_id(value) or 0, MAX_ROWS)


def _rows_of(form: FormData) -> list[tuple[int, OnCall]]:
    """(form row number, entry) for every row with anything typed in it."""
    rows = []
    for number in range(_row_count(form)):
        entry = OnCall(form.get(f"name_{number}"), form.get(f"phone_{number}") or None,
                       form.get(f"email_{number}") or None,
                       form.get(f"page_by_{number}") or "both")  # fmt: skip
        if entry.name or entry.phone or entry.email:
            rows.append((number, entry))
    return rows


def _page(request: Request, session: Session, viewer: Viewer, clinic: Clinic,
          form: FormData) -> Response:  # fmt: skip
    return page(
        request,
        "oncall.html",
        viewer,
        form=form,
        clinic=clinic,
        clinics=clinic_choices(session, viewer),
        rows=_row_count(form),
        can_edit=viewer.role in EDITORS,
        page_by=PAGE_BY_CHOICES,
        warning=missing_warning(clinic, len(_rows_of(form))),
        status_code=422 if form.errors else 200,
    )


@router.get("/app/oncall")
def oncall_form(
    request: Request, session: SessionDep, viewer: StaffDep, clinic_id: str = ""
) -> Response:
    clinic = clinic_of(session, viewer, clinic_id)
    values = {"rows": str(len(oncall_list(session, clinic)) + BLANK_ROWS)}
    for number, person in enumerate(oncall_list(session, clinic)):
        values.update({f"name_{number}": person.name, f"phone_{number}": person.phone or "",
                       f"email_{number}": person.email or "",
                       f"page_by_{number}": person.page_by})  # fmt: skip
    return _page(request, session, viewer, clinic, FormData(values, {}))


@router.post("/app/oncall", dependencies=[CsrfDep])
def oncall_save(
    request: Request, session: SessionDep, viewer: ClinicAdminDep, form: FormDep
) -> Response:
    clinic = clinic_of(session, viewer, form.get("clinic_id"))
    numbered = _rows_of(form)
    changes = ClinicChanges(oncall=[entry for _, entry in numbered])
    try:
        update_clinic(session, clinic, changes, actor=viewer.principal.label)
    except ClinicError as exc:
        index, _, part = exc.field.removeprefix("oncall.").partition(".")
        number = numbered[int(index)][0] if index.isdigit() else 0
        form.error(f"{part or 'name'}_{number}", f"Row {number + 1}: {exc.message}.")
        session.rollback()
        return _page(request, session, viewer, clinic, form)
    return RedirectResponse(f"/app/oncall?clinic_id={clinic.id}&done=oncall", status_code=303)
