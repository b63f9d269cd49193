"""`/unsubscribe/{token}`: the link in every patient email (RFC 8058 one-click).

GET shows a confirmation page and never unsubscribes by itself: mail scanners fetch
links. POST (the mail client's one-click request, or the page's button) unsubscribes.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import HTMLResponse

from service.api.deps import SessionDep, SettingsDep
from service.config import Settings
from service.db.models import Patient
from service.unsubscribe import InvalidToken, unsubscribe_email, verify_token

router = APIRouter(tags=["unsubscribe"])

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body><main><h1>{title}</h1><p>{text}</p>{form}</main></body></html>"""


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    _patient(session, settings, token)
    form = (
        f'<form method="post" action="/unsubscribe/{html.escape(token)}">'
        '<button type="submit">Unsubscribe from aftercare emails</button></form>'
    )
    text = (
        "Stop receiving aftercare emails from your clinic? Text messages are not affected. "
        "If you have an emergency, call your local emergency number."
    )
    return HTMLResponse(_PAGE.format(title="Unsubscribe", text=text, form=form))


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    patient = _patient(session, settings, token)
    unsubscribe_email(session, patient=patient, now=datetime.now(UTC))
    text = (
        "You will not receive more aftercare emails. If you have an emergency, call your "
        "local emergency number; for questions, call your clinic."
    )
    return HTMLResponse(_PAGE.format(title="You are unsubscribed", text=text, form=""))


def _patient(session: SessionDep, settings: Settings, token: str) -> Patient:
    try:
        patient_id = verify_token(secret_key=settings.secret_key.get_secret_value(), token=token)
    except InvalidToken:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "unknown or invalid unsubscribe link"
        ) from None
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown or invalid unsubscribe link")
    return patient
