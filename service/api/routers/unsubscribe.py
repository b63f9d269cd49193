"""`/unsubscribe/{token}`: the link in every patient email (RFC 8058 one-click).

GET shows a confirmation page and never unsubscribes by itself: mail scanners fetch
links. POST (the mail client's one-click request, or the page's button) unsubscribes.
Both answer with a page in the patient's language naming their clinic; a bad link gets
a readable page (in every language we write), never JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from service.api.deps import SessionDep, SettingsDep
from service.config import Settings
from service.db.models import Clinic, Patient
from service.unsubscribe import InvalidToken, unsubscribe_email, verify_token
from service.web.templating import render

router = APIRouter(tags=["unsubscribe"])


@router.get("/unsubscribe/{token}", include_in_schema=False)
def unsubscribe_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> Response:
    patient = _patient(session, settings, token)
    if patient is None:
        return _bad_link(request)
    return _page(request, session, patient, token, state="ask")


@router.post("/unsubscribe/{token}", include_in_schema=False)
def unsubscribe(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> Response:
    patient = _patient(session, settings, token)
    if patient is None:
        return _bad_link(request)
    unsubscribe_email(session, patient=patient, now=datetime.now(UTC))
    return _page(request, session, patient, token, state="done")


def _page(request: Request, session: SessionDep, patient: Patient, token: str,
          *, state: str) -> Response:  # fmt: skip
    clinic = session.get(Clinic, patient.clinic_id)
    assert clinic is not None  # foreign key
    context: dict[str, Any] = {
        "state": state,
        "token": token,
        "lang": patient.language,
        "already": patient.email_opted_out_at is not None,
        "clinic_name": clinic.name,
        "clinic_phone": clinic.contact_phone,
        "emergency_phone": clinic.emergency_phone,
    }
    return render(request, "unsubscribe.html", context)


def _bad_link(request: Request) -> Response:
    context = {"state": "bad", "token": "", "lang": "en", "already": False, "clinic_name": "",
               "clinic_phone": "", "emergency_phone": ""}  # fmt: skip
    return render(request, "unsubscribe.html", context, status_code=404)


def _patient(session: SessionDep, settings: Settings, token: str) -> Patient | None:
    try:
        patient_id = verify_token(secret_key=settings.secret_key.get_secret_value(), token=token)
    except InvalidToken:
        return None
    return session.get(Patient, patient_id)
