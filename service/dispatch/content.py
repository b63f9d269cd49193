"""Exact content and recipient for a claimed row, fixed before the provider call.

Plan rows (and email fallbacks of plan steps) are stored without a body and rendered
here, at send time, from the pinned plan (so a pinned patient never sees later template
edits). The rendered text, subject, HTML, segment count and the recipient address are
written to the row *before* the call: the row then says exactly what went out, and
reconciliation can match the provider's record against it after a crash.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from service.channels.base import OutboundMessage
from service.db.models import Clinic, Enrollment, Message, Patient
from service.db.queries import one_of, update_rows
from service.domain import Channel, MessageKind
from service.plans.content_store import load_enrolled
from service.plans.model import Plan
from service.rendering import Rendered, Renderer, RenderError, message_context
from service.unsubscribe import UnsubscribeLinks, with_footer

# Rows rendered from their plan step at send time: plan rows, and email fallbacks of them.
_STEP_KINDS = frozenset({MessageKind.PLAN, MessageKind.FALLBACK})


class ContentError(ValueError):
    """The row cannot be turned into a message (the reason is shown to staff)."""


class PlanCache:
    """Pinned plans and clinic content versions in use are immutable, so one load per
    (key, version, clinic content version) per process is enough."""

    def __init__(self) -> None:
        self._plans: dict[tuple[str, int, int | None], Plan] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, key: str, version: int, content_id: int | None = None) -> Plan:
        cache_key = (key, version, content_id)
        with self._lock:
            plan = self._plans.get(cache_key)
        if plan is None:
            plan = load_enrolled(session, key, version, content_id)
            with self._lock:
                self._plans[cache_key] = plan
        return plan


def load_related(session: Session, messages: Iterable[Message]) -> dict[str, dict[int, object]]:
    """Patients, enrolments and clinics of a batch, three queries in all, as read-only rows
    (attribute access like the models, without building ORM objects)."""
    rows = list(messages)
    ids = {
        "patient": {m.patient_id for m in rows if m.patient_id},
        "enrollment": {m.enrollment_id for m in rows if m.enrollment_id},
        "clinic": {m.clinic_id for m in rows},
    }
    return {
        "patient": rows_by_id(session, Patient, ids["patient"]),
        "enrollment": rows_by_id(session, Enrollment, ids["enrollment"]),
        "clinic": rows_by_id(session, Clinic, ids["clinic"]),
    }


# The columns the dispatch path reads of a message's patient, enrolment and clinic
# (rendering, the pre-send checks, the adapter's sender): reading only these keeps each
# batch's queries cheap. A check that needs another column must add it here.
READ_COLUMNS: dict[Any, tuple[str, ...]] = {
    Patient: (
        "id",
        "first_name",
        "phone",
        "email",
        "timezone",
        "language",
        "phone_can_sms",
        "sms_consent_at",
        "email_consent_at",
        "sms_opted_out_at",
        "email_opted_out_at",
    ),
    Enrollment: ("id", "status", "plan_key", "plan_version", "content_version_id", "procedure_at"),
    Clinic: (
        "id",
        "name",
        "contact_phone",
        "emergency_phone",
        "phone_24h",
        "quiet_start",
        "quiet_end",
        "night_start",
        "night_end",
        "sms_from",
        "email_from",
        "messaging_service_sid",
    ),
}


def rows_by_id(
    session: Session, model: Any, ids: Iterable[int | None], *, share_lock: bool = False
) -> dict[Any, Any]:
    """Read-only rows of `model`'s `READ_COLUMNS` by id (Core: no identity map, no change
    tracking). Only for reading; a row that is to be changed must be loaded as an object.
    `share_lock`: FOR SHARE, taken in id order (PostgreSQL; not rendered on SQLite)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    table: Any = model.__table__
    columns = (table.c[name] for name in READ_COLUMNS[model])
    query = select(*columns).where(one_of(session, table.c.id, wanted))
    if share_lock:
        query = query.order_by(table.c.id).with_for_update(read=True)
    return {row.id: row for row in session.connection().execute(query)}


CONTENT_FIELDS = ("body", "subject", "body_html", "segments", "to_address")


def prepare(
    session: Session,
    message: Message,
    *,
    patient: Patient | None,
    enrollment: Enrollment | None,
    clinic: Clinic,
    renderer: Renderer,
    plans: PlanCache,
    links: UnsubscribeLinks | None = None,
) -> None:
    """Render (plan rows without a body) and fix the recipient. Raises ContentError."""
    values = content_of(
        session,
        message,
        patient=patient,
        enrollment=enrollment,
        clinic=clinic,
        renderer=renderer,
        plans=plans,
        links=links,
    )
    for name, value in values.items():
        setattr(message, name, value)


def content_of(
    session: Session,
    message: Message,
    *,
    patient: Patient | None,
    enrollment: Enrollment | None,
    clinic: Clinic,
    renderer: Renderer,
    plans: PlanCache,
    links: UnsubscribeLinks | None = None,
) -> dict[str, Any]:
    """The row's `CONTENT_FIELDS` as they must be stored before the call (the row itself
    is not changed); a patient's email gets its unsubscribe line. Raises ContentError."""
    values: dict[str, Any] = {name: getattr(message, name) for name in CONTENT_FIELDS}
    if message.body is None:
        values.update(_render_plan_row(session, message, patient, enrollment, clinic,
                                       renderer, plans))  # fmt: skip
    if values["to_address"] is None and patient is not None and message.kind != MessageKind.PAGE:
        values["to_address"] = patient.phone if message.channel == Channel.SMS else patient.email
    if links is not None and patient is not None and _patient_email(message):
        _add_unsubscribe(values, message, patient, clinic, renderer, links)
    return values


def _patient_email(message: Message) -> bool:
    return message.channel == Channel.EMAIL and message.kind != MessageKind.PAGE


def _add_unsubscribe(values: dict[str, Any], message: Message, patient: Patient, clinic: Clinic,
                     renderer: Renderer, links: UnsubscribeLinks) -> None:  # fmt: skip
    url = links.url(patient.id)  # type: ignore[arg-type]
    if url in (values["body"] or ""):
        return  # a retry of a row whose content was already fixed
    try:
        footer = renderer.render_system(
            name="unsubscribe_footer", channel=Channel.EMAIL,
            language=message.language or patient.language,
            context={"clinic_name": clinic.name, "unsubscribe_url": url},
        ).text  # fmt: skip
    except RenderError as exc:
        raise ContentError(f"cannot render the unsubscribe line: {exc}") from exc
    values["body"], values["body_html"] = with_footer(values["body"], values["body_html"], footer)


def unsubscribe_headers(
    message: Any, clinic: Clinic, links: UnsubscribeLinks | None, default_from: str | None
) -> dict[str, str]:
    """RFC 8058 headers for an email to a patient (none for pages or SMS)."""
    if links is None or message.patient_id is None or not _patient_email(message):
        return {}
    return links.headers(message.patient_id, clinic.email_from or default_from)


def store_content(session: Session, messages: Sequence[Any], contents: list[dict]) -> None:
    """Write the prepared content of a batch in one statement (the objects or snapshots
    passed in are not changed)."""
    table: Any = Message.__table__  # type: ignore[attr-defined]
    rows = [
        {"id": m.id, **{name: values[name] for name in CONTENT_FIELDS}}
        for m, values in zip(messages, contents, strict=True)
    ]
    update_rows(session.connection(), table, rows)


def _render_plan_row(
    session: Session,
    message: Message,
    patient: Patient | None,
    enrollment: Enrollment | None,
    clinic: Clinic,
    renderer: Renderer,
    plans: PlanCache,
) -> dict[str, Any]:
    if message.kind not in _STEP_KINDS or enrollment is None or patient is None:
        raise ContentError("message has no content and is not a plan step")
    if not message.step_key:
        raise ContentError("plan message has no step key")
    rendered = render_step_for(
        session, message, Channel(message.channel), patient, enrollment, clinic, renderer, plans
    )
    return {
        "body": rendered.text,
        "subject": rendered.subject,
        "body_html": rendered.html,
        "segments": rendered.segments,
    }


def render_step_for(
    session: Session,
    message: Message,
    channel: Channel,
    patient: Patient,
    enrollment: Enrollment,
    clinic: Clinic,
    renderer: Renderer,
    plans: PlanCache,
) -> Rendered:
    """The row's plan step rendered for `channel` from the pinned plan, in the clinic's
    wording the patient was enrolled with. Raises ContentError."""
    try:
        plan = plans.get(
            session, enrollment.plan_key, enrollment.plan_version, enrollment.content_version_id
        )
        return renderer.render_step(
            plan=plan,
            step_key=message.step_key or "",
            channel=channel,
            language=message.language or patient.language,
            context=_context(message, patient, enrollment, clinic),
        )
    except (ValueError, KeyError) as exc:  # PlanError, UnknownPlan, RenderError
        raise ContentError(
            f"cannot render {enrollment.plan_key}/{message.step_key}: {exc}"
        ) from exc


def _context(
    message: Message, patient: Patient, enrollment: Enrollment, clinic: Clinic
) -> dict[str, object]:
    local = enrollment.procedure_at.astimezone(ZoneInfo(patient.timezone))
    return message_context(
        patient_first_name=patient.first_name,
        clinic_name=clinic.name,
        clinic_phone=clinic.contact_phone,
        emergency_phone=clinic.emergency_phone,
        procedure_at_local=local,
        language=message.language or patient.language,
        extra=message.context,
        patient_phone=patient.phone,
        clinic_24h=clinic.phone_24h,
    )


def outbound(
    message: Message,
    clinic: Clinic,
    headers: dict[str, str] | None = None,
    *,
    content: dict[str, Any] | None = None,
) -> OutboundMessage:
    """The adapter's view of a prepared row (vendor-neutral); `content`: the row's
    `CONTENT_FIELDS` as `content_of` fixed them, if they are not on the row itself."""
    values = content or {name: getattr(message, name) for name in CONTENT_FIELDS}
    if values["body"] is None or values["to_address"] is None:
        raise ContentError("message was not prepared before sending")
    sms = message.channel == Channel.SMS
    return OutboundMessage(
        message_id=message.id,  # type: ignore[arg-type]
        channel=Channel(message.channel),
        to=values["to_address"],
        body=values["body"],
        subject=values["subject"],
        html=values["body_html"],
        from_=clinic.sms_from if sms else clinic.email_from,
        messaging_service_sid=clinic.messaging_service_sid if sms else None,
        headers=headers or {},
    )
