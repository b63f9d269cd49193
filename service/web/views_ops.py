"""Operator pages: the delivery log across clinics, its CSV export, message detail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from service.api.deps import SessionDep, get_engine
from service.db.models import Clinic, Message, MessageEvent, Patient
from service.db.types import utcnow
from service.domain import Channel, MessageStatus
from service.web.access import visible
from service.web.csvout import csv_line
from service.web.deps import OpsDep, WebRoute, page
from service.web.log_data import LogFilter, decode_cursor, delivery_log, masked_destination

router = APIRouter(route_class=WebRoute, include_in_schema=False)
EXPORT_LIMIT = 100_000
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
    take("clinic_id", int, "Clinic")
    take("date_from", date.fromisoformat, "From date")
    take("date_to", date.fromisoformat, "To date")
    if params.get("future") == "1":
        query["future"] = "1"
    flt = LogFilter(**values, upto=None if "future" in query else utcnow())  # type: ignore[arg-type]
    return ParsedFilter(flt, errors, query)


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
def log_export(request: Request, viewer: OpsDep) -> Response:
    parsed = parse_filter(dict(request.query_params))
    engine: Engine = get_engine(request)
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
    """Stream the filtered log in keyset batches (bounded memory, own DB session)."""
    yield csv_line(CSV_HEADER)
    sent = 0
    with Session(engine) as session:
        while sent < EXPORT_LIMIT:
            batch = delivery_log(session, flt, limit=min(EXPORT_BATCH, EXPORT_LIMIT - sent))
            for row in batch.rows:
                yield csv_line(_csv_fields(row.message, row.clinic_name, row.destination))
            sent += len(batch.rows)
            if batch.next_cursor is None:
                return
            flt = replace(flt, before=decode_cursor(batch.next_cursor))
            session.expunge_all()
    yield csv_line([f"# stopped after {EXPORT_LIMIT} rows: narrow the filters"])


def _csv_fields(m: Message, clinic: str, destination: str) -> list[object]:
    return [
        m.id, clinic, m.patient_id, m.enrollment_id, m.kind, m.step_key, m.channel, destination,
        m.status, m.status_reason, m.due_at.isoformat(), m.sent_at and m.sent_at.isoformat(),
        m.delivered_at and m.delivered_at.isoformat(), m.attempts, m.provider, m.error_code,
        m.error_text,
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
