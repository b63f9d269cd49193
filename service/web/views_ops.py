"""Operator pages: the delivery log across clinics, its CSV export, message detail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from service.api.deps import SessionDep, get_engine
from service.db.engine import read_snapshot
from service.db.models import Clinic, Message, MessageEvent, Patient
from service.db.types import utcnow
from service.domain import Channel, MessageStatus, parse_id
from service.web.access import visible
from service.web.csvout import csv_line, csv_lines
from service.web.deps import OpsDep, WebRoute, page
from service.web.log_data import (
    LogFilter,
    decode_cursor,
    delivery_log,
    export_rows,
    masked_address,
    masked_destination,
    page_ids,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
# Bounds one request, not what an export may hold: past this the file ends with a note.
EXPORT_LIMIT = 1_000_000
EXPORT_BATCH = 2_000


@dataclass(frozen=True)
class ParsedFilter:
    flt: LogFilter
    errors: list[str]
    query: dict[str, str]  # the valid filters, for links to further pages and the export


def parse_filter(params: dict[str, str]) -> ParsedFilter:
    """Query parameters to a LogFilter; each bad value is named, never a 500."""
    errors: list[str] = []
    values: dict[str, object] = {}
    query: dict[str, str] = {}

    def take(name: str, convert: Callable[[str], object], label: str) -> None:
        raw = params.get(name, "").strip()
        if not raw:
            return
        try:
            values[name] = convert(raw)
            query[name] = raw
        except ValueError:
            errors.append(f"{label}: {raw!r} is not valid")

    take("status", MessageStatus, "Status")
    take("channel", Channel, "Channel")
    take("clinic_id", _record_id, "Clinic")
    take("date_from", _day, "From date")
    take("date_to", _day, "To date")
    if params.get("future") == "1":
        query["future"] = "1"
    flt = LogFilter(**values, upto=None if "future" in query else utcnow())  # type: ignore[arg-type]
    return ParsedFilter(flt, errors, query)


def _record_id(text: str) -> int:
    value = parse_id(text)
    if value is None:
        raise ValueError(text)
    return value


def _day(text: str) -> date:
    """A calendar day a filter can use (the day after it must exist too)."""
    day = date.fromisoformat(text)
    if not 1900 <= day.year <= 9000:
        raise ValueError(text)
    return day


@router.get("/app/ops/messages")
def log_page(request: Request, session: SessionDep, viewer: OpsDep) -> Response:
    parsed = parse_filter(dict(request.query_params))
    flt = replace(parsed.flt, before=decode_cursor(request.query_params.get("before")))
    result = delivery_log(session, flt)
    return page(
        request,
        "ops_log.html",
        viewer,
        result=result,
        parsed=parsed,
        clinics=session.exec(select(Clinic).order_by(col(Clinic.name))).all(),
        statuses=list(MessageStatus),
        channels=list(Channel),
        first=flt.before is None,
    )


@router.get("/app/ops/messages.csv")
def log_export(request: Request, session: SessionDep, viewer: OpsDep) -> Response:
    parsed = parse_filter(dict(request.query_params))
    engine: Engine = get_engine(request)
    # The sign-in check's transaction ends here, not when the download does: on SQLite it
    # holds the write lock, and sending, pages and replies must not wait for a download.
    session.commit()
    headers = {
        "Content-Disposition": 'attachment; filename="delivery-log.csv"',
        "Cache-Control": "no-store",
    }
    return StreamingResponse(_csv_rows(engine, parsed.flt), media_type="text/csv", headers=headers)


CSV_HEADER = [
    "message_id", "clinic", "patient_id", "enrollment_id", "kind", "step", "channel",
    "destination", "status", "reason", "due_at", "sent_at", "delivered_at", "attempts",
    "provider", "error_code", "error_text",
]  # fmt: skip


def _csv_rows(engine: Engine, flt: LogFilter) -> Iterator[str]:
    """Stream the filtered log in keyset batches: bounded memory, and one read snapshot
    (service.db.engine.read_snapshot), so the file is complete and consistent however
    long the download takes, and no writer waits for it."""
    yield csv_line(CSV_HEADER)
    sent = 0
    with read_snapshot(engine) as session:
        while sent < EXPORT_LIMIT:
            ids = page_ids(session, flt, min(EXPORT_BATCH, EXPORT_LIMIT - sent) + 1)
            batch = ids[:EXPORT_BATCH]
            rows = export_rows(session, batch)
            yield csv_lines(_csv_fields(row) for row in rows)
            sent += len(rows)
            if len(ids) <= len(batch) or not rows:
                return
            last = rows[-1]
            flt = replace(flt, before=(last.due_at, last.id))
    yield csv_line([f"# stopped after {EXPORT_LIMIT} rows: narrow the filters"])


def _csv_fields(r: Any) -> list[object]:
    destination = masked_address(r.channel, r.to_address, r.phone, r.email)
    return [
        r.id, r.name, r.patient_id, r.enrollment_id, r.kind, r.step_key, r.channel, destination,
        r.status, r.status_reason, r.due_at.isoformat(), r.sent_at and r.sent_at.isoformat(),
        r.delivered_at and r.delivered_at.isoformat(), r.attempts, r.provider, r.error_code,
        r.error_text,
    ]  # fmt: skip


@router.get("/app/ops/messages/{message_id}")
def message_detail(
    request: Request, session: SessionDep, viewer: OpsDep, message_id: int
) -> Response:
    message = visible(session, viewer, Message, message_id)
    events = session.exec(
        select(MessageEvent)
        .where(MessageEvent.message_id == message.id)
        .order_by(col(MessageEvent.at), col(MessageEvent.id))
    ).all()
    patient = session.get(Patient, message.patient_id) if message.patient_id else None
    destination = masked_destination(
        message, patient.phone if patient else None, patient.email if patient else None
    )
    clinic = session.get(Clinic, message.clinic_id)
    return page(
        request, "ops_message.html", viewer, m=message, events=events, clinic=clinic,
        destination=destination,
    )  # fmt: skip
