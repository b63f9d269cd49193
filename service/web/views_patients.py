"""Staff pages: patient list and search, a patient's conversation and timeline, and the
staff reply sent from the conversation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from service.api.deps import DbId, SessionDep, SettingsDep
from service.api.routers.plans import CatalogDep, get_renderer
from service.api.routers.webhooks_inbound import composer_for
from service.config import Settings
from service.db.models import Clinic, Patient
from service.db.types import utcnow
from service.dispatch.content import PlanCache
from service.domain import Channel
from service.fallback import email_reachable
from service.households import on_numbers, others_on_number
from service.inbox.staff_reply import (
    MAX_TEXT,
    StaffReplyError,
    default_channel,
    night_for,
    refusal,
    send_staff_reply,
)
from service.reach import reach_of
from service.web.access import visible
from service.web.alert_data import notes_for
from service.web.deps import CsrfDep, StaffDep, Viewer, WebError, WebRoute, page
from service.web.patient_data import search_patients
from service.web.people import names_for
from service.web.thread_data import THREAD_LIMIT, conversation, thread_actors
from service.web.timeline_data import PAGE_SIZE, BadCursor, Cursor, patient_timeline
from service.web.timeline_view import message_views, plan_titles

router = APIRouter(route_class=WebRoute, include_in_schema=False)
TIMELINE_LIMIT: int | None = PAGE_SIZE  # bench/timeline.py sets None for its baseline


class BadPage(WebError):
    status_code = 422
    title = "Please check the link"


@router.get("/app/patients")
def patient_list(
    request: Request, session: SessionDep, viewer: StaffDep, catalog: CatalogDep, q: str = "",
    before: DbId | None = None,
) -> Response:  # fmt: skip
    q = q.replace("\x00", "")[:100]  # a NUL is no name, and PostgreSQL refuses one
    own = session.get(Clinic, viewer.clinic_id) if viewer.clinic_id is not None else None
    rows, next_cursor = search_patients(
        session, clinic_id=viewer.clinic_id, query=q, before_id=before,
        region=own.default_region if own else "US",
    )  # fmt: skip
    return page(
        request,
        "patients.html",
        viewer,
        rows=rows,
        q=q,
        next_cursor=next_cursor,
        first=before is None,
        plan_titles=catalog.titles(),
    )


@router.get("/app/patients/{patient_id}")
def patient_page(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: StaffDep, patient_id: int,
    before: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:  # fmt: skip
    patient = visible(session, viewer, Patient, patient_id)
    place = {"before": _cursor("before", before), "after": _cursor("after", after)}
    return _patient_page(request, session, settings, viewer, patient, **place)


def _cursor(name: str, token: str | None) -> Cursor | None:
    if not token:
        return None
    try:
        return Cursor.parse(token)
    except BadCursor:
        raise BadPage(f"{name}: not a timeline position this page made. "
                      "Open the patient again from the patient list.") from None  # fmt: skip


def _patient_page(
    request: Request, session: Session, settings: Settings, viewer: Viewer, patient: Patient,
    *, before: Cursor | None = None, after: Cursor | None = None, **extra: Any,
) -> Response:  # fmt: skip
    timeline = patient_timeline(session, patient, now=utcnow(), before=before, after=after,
                                limit=TIMELINE_LIMIT)  # fmt: skip
    plans = plan_cache(request)
    views = message_views(session, timeline, renderer=get_renderer(request), plans=plans)
    titles = plan_titles(session, plans, timeline.enrollments)
    thread = conversation(session, patient)
    notes = notes_for(session, [item.alert for item in timeline.items if item.alert])
    noted = [label for note in notes.values() for label in note.labels]
    people = names_for(session, timeline.actors() + thread_actors(thread) + noted)
    simulate = settings.environment != "production"  # service.web.views_simulate
    return page(request, "patient.html", viewer, t=timeline, views=views, plan_titles=titles,
                notes=notes, people=people,
                simulate=simulate, paged=before is not None or after is not None,
                safety_note=_safety_note(patient), thread=thread, reach=reach_of(patient),
                thread_limit=THREAD_LIMIT,
                reply=_reply_form(session, patient, timeline.clinic),
                household=_household(session, patient), **extra)  # fmt: skip


def plan_cache(request: Request) -> PlanCache:
    """Pinned plans parsed once per process (they never change once pinned)."""
    state = request.app.state
    if getattr(state, "web_plan_cache", None) is None:
        state.web_plan_cache = PlanCache()
    return state.web_plan_cache


def _household(session: Session, patient: Patient) -> list[Patient]:
    """Other patients of the clinic on the same phone number."""
    numbers = on_numbers(session, clinic_id=patient.clinic_id, phones=[patient.phone])
    return others_on_number(patient, numbers.get(patient.phone or "", []))


def _reply_form(session: Session, patient: Patient, clinic: Clinic) -> dict[str, Any]:
    """The staff reply form: each channel with why it cannot be used, the default one,
    the night warning, and a fresh key so a resubmitted form sends once."""
    refused = {c.value: e.message for c in Channel if (e := refusal(patient, c)) is not None}
    preferred = default_channel(session, patient).value
    usable = [preferred] + [c.value for c in Channel if c.value != preferred]
    return {
        "refusals": refused,
        "default": next((c for c in usable if c not in refused), preferred),
        "night": night_for(patient, clinic, utcnow()),
        "key": uuid.uuid4().hex,
        "max": MAX_TEXT,
    }


@router.post("/app/patients/{patient_id}/messages", dependencies=[CsrfDep])
def send_reply(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    viewer: StaffDep,
    patient_id: int,
    text: Annotated[str, Form()] = "",
    channel: Annotated[Channel | None, Form()] = None,
    key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A staff reply from the thread, sent at once (see service.inbox.staff_reply)."""
    patient = visible(session, viewer, Patient, patient_id)
    clinic = session.get(Clinic, patient.clinic_id)
    assert clinic is not None  # foreign key
    try:
        send_staff_reply(session, composer=composer_for(settings), clinic=clinic, patient=patient,
                         text=text, actor=viewer.principal.label, now=utcnow(), channel=channel,
                         key=key or None)  # fmt: skip
    except StaffReplyError as exc:
        return _patient_page(request, session, settings, viewer, patient, reply_error=exc.message,
                             reply_text=text, status_code=409 if exc.conflict else 422)  # fmt: skip
    return RedirectResponse(
        f"/app/patients/{patient.id}?done=replied#conversation", status_code=303
    )


def _safety_note(patient: Patient) -> str:
    """Whether red-flag reminders still reach a patient who gets no texts."""
    if email_reachable(patient):
        return "Red-flag reminders and safety messages go by email instead."
    return "There is no email we may use: red-flag reminders cannot reach this patient. Phone them."
