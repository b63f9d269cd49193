"""An enrolment's exportable record: a printable page and a CSV download."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.api.deps import SessionDep
from service.db.models import Enrollment
from service.web.access import visible
from service.web.alert_data import notes_for
from service.web.csvout import csv_line
from service.web.deps import StaffDep, WebRoute, page
from service.web.record_data import enrollment_record, entries, sent_text
from service.web.views_enrollments import plan_title

router = APIRouter(route_class=WebRoute, include_in_schema=False)
CSV_HEADER = ("at_utc", "kind", "ref", "what", "status", "detail", "by", "text")


@router.get("/app/enrollments/{enrollment_id}/record")
def record_page(
    request: Request, session: SessionDep, viewer: StaffDep, enrollment_id: int
) -> Response:
    record = enrollment_record(session, visible(session, viewer, Enrollment, enrollment_id))
    notes = notes_for(session, record.alerts)
    return page(request, "record.html", viewer, r=record, sent_text=sent_text, notes=notes,
                plan_title=plan_title(session, record.enrollment))  # fmt: skip


@router.get("/app/enrollments/{enrollment_id}/record.csv")
def record_csv(session: SessionDep, viewer: StaffDep, enrollment_id: int) -> Response:
    record = enrollment_record(session, visible(session, viewer, Enrollment, enrollment_id))
    lines = [csv_line(CSV_HEADER)]
    lines += [
        csv_line([e.at.isoformat(), e.kind, e.ref, e.what, e.status, e.detail, e.by, e.text])
        for e in entries(record)
    ]
    name = f"enrollment-{enrollment_id}-record.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response("".join(lines), media_type="text/csv; charset=utf-8", headers=headers)
