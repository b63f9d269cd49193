"""The alert inbox: urgent first, acknowledge and resolve, refreshed without reload."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from service import alerts
from service.api.deps import SessionDep
from service.db.models import Alert
from service.db.types import utcnow
from service.domain import AlertSeverity, AlertStatus
from service.web.access import visible
from service.web.alert_data import (
    INBOX_LIMIT,
    AlertRow,
    inbox,
    notes_for,
    people_in,
    recently_resolved,
    signature,
)
from service.web.deps import Conflict, CsrfDep, StaffDep, WebRoute, page
from service.web.templating import SECURITY_HEADERS, templates_for

router = APIRouter(route_class=WebRoute, include_in_schema=False)
POLL_SECONDS = 4


@router.get("/app/alerts")
def alert_inbox(request: Request, session: SessionDep, viewer: StaffDep) -> Response:
    rows = inbox(session, clinic_id=viewer.clinic_id)
    resolved = recently_resolved(session, clinic_id=viewer.clinic_id)
    notes = notes_for(session, [r.alert for r in rows + resolved])
    return page(
        request,
        "alerts.html",
        viewer,
        rows=rows,
        resolved=resolved,
        sig=signature(rows),
        poll_seconds=POLL_SECONDS,
        urgent_open=_urgent_open(rows),
        people=people_in(session, rows + resolved, notes),
        notes=notes,
        inbox_limit=INBOX_LIMIT,
    )


@router.get("/app/alerts/feed")
def alert_feed(request: Request, session: SessionDep, viewer: StaffDep) -> Response:
    """The inbox list alone (HTML fragment), polled by live.js every few seconds."""
    rows = inbox(session, clinic_id=viewer.clinic_id)
    sig = signature(rows)
    headers = SECURITY_HEADERS | {
        "X-Inbox-Signature": sig,
        "X-Urgent-Open": str(_urgent_open(rows)),
    }
    if request.query_params.get("since") == sig:
        return Response(status_code=204, headers=headers)
    notes = notes_for(session, [r.alert for r in rows])
    response = templates_for(request).TemplateResponse(
        request,
        "_alert_list.html",
        {"rows": rows, "viewer": viewer, "people": people_in(session, rows, notes),
         "notes": notes},
        headers=headers,
    )  # fmt: skip
    return response


def _urgent_open(rows: list[AlertRow]) -> int:
    return sum(
        1
        for r in rows
        if r.alert.severity == AlertSeverity.URGENT and r.alert.status == AlertStatus.OPEN
    )


@router.post("/app/alerts/{alert_id}/ack", dependencies=[CsrfDep])
def acknowledge_alert(session: SessionDep, viewer: StaffDep, alert_id: int) -> Response:
    alert = visible(session, viewer, Alert, alert_id)
    try:
        alerts.acknowledge(session, alert=alert, actor=viewer.principal.label, now=utcnow())
    except alerts.AlertError as exc:
        raise Conflict(str(exc)) from None
    return RedirectResponse("/app/alerts?done=acknowledged", status_code=303)


@router.post("/app/alerts/{alert_id}/resolve", dependencies=[CsrfDep])
def resolve_alert(
    session: SessionDep, viewer: StaffDep, alert_id: int, note: Annotated[str, Form()] = ""
) -> Response:
    alert = visible(session, viewer, Alert, alert_id)
    try:
        alerts.resolve(
            session,
            alert=alert,
            actor=viewer.principal.label,
            now=utcnow(),
            note=note[:500] or None,
        )
    except alerts.AlertError as exc:
        raise Conflict(str(exc)) from None
    return RedirectResponse("/app/alerts?done=resolved", status_code=303)
