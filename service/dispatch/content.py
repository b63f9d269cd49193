"""Exact content and recipient for a claimed row, fixed before the provider call.

Plan rows are stored without a body and rendered here, at send time, from the pinned
plan (so a pinned patient never sees later template edits). The rendered text, subject,
HTML, segment count and the recipient address are written to the row *before* the call:
the row then says exactly what went out, and reconciliation can match the provider's
record against it after a crash.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from service.channels.base import OutboundMessage
from service.db.models import Clinic, Enrollment, Message, Patient
from service.domain import Channel, MessageKind
from service.plans.model import Plan
from service.plans.store import load_pinned
from service.rendering import Renderer, message_context


class ContentError(ValueError):
    """The row cannot be turned into a message (the reason is shown to staff)."""


class PlanCache:
    """Pinned plans are immutable, so one parse per (key, version) per process is enough."""

    def __init__(self) -> None:
        self._plans: dict[tuple[str, int], Plan] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, key: str, version: int) -> Plan:
        with self._lock:
            plan = self._plans.get((key, version))
        if plan is None:
            plan = load_pinned(session, key, version)
            with self._lock:
                self._plans[(key, version)] = plan
        return plan


def load_related(session: Session, messages: Iterable[Message]) -> dict[str, dict[int, object]]:
    """Patients, enrolments and clinics of a batch, three queries in all."""
    rows = list(messages)
    ids = {
        "patient": {m.patient_id for m in rows if m.patient_id},
        "enrollment": {m.enrollment_id for m in rows if m.enrollment_id},
        "clinic": {m.clinic_id for m in rows},
    }
    return {
        "patient": _by_id(session, Patient, ids["patient"]),
        "enrollment": _by_id(session, Enrollment, ids["enrollment"]),
        "clinic": _by_id(session, Clinic, ids["clinic"]),
    }


def _by_id(session: Session, model: type, ids: set[int]) -> dict[int, object]:
    if not ids:
        return {}
    query: Any = select(model).where(col(model.id).in_(ids))  # type: ignore[attr-defined]
    return {row.id: row for row in session.exec(query).all()}


def prepare(
    session: Session,
    message: Message,
    *,
    patient: Patient | None,
    enrollment: Enrollment | None,
    clinic: Clinic,
    renderer: Renderer,
    plans: PlanCache,
) -> None:
    """Render (plan rows without a body) and fix the recipient. Raises ContentError."""
    if message.body is None:
        _render_plan_row(session, message, patient, enrollment, clinic, renderer, plans)
    if message.to_address is None and patient is not None and message.kind != MessageKind.PAGE:
        message.to_address = patient.phone if message.channel == Channel.SMS else patient.email


def _render_plan_row(
    session: Session,
    message: Message,
    patient: Patient | None,
    enrollment: Enrollment | None,
    clinic: Clinic,
    renderer: Renderer,
    plans: PlanCache,
) -> None:
    if message.kind != MessageKind.PLAN or enrollment is None or patient is None:
        raise ContentError("message has no content and is not a plan step")
    if not message.step_key:
        raise ContentError("plan message has no step key")
    try:
        plan = plans.get(session, enrollment.plan_key, enrollment.plan_version)
        rendered = renderer.render_step(
            plan=plan,
            step_key=message.step_key,
            channel=Channel(message.channel),
            language=message.language or patient.language,
            context=_context(message, patient, enrollment, clinic),
        )
    except (ValueError, KeyError) as exc:  # PlanError, UnknownPlan, RenderError
        raise ContentError(
            f"cannot render {enrollment.plan_key}/{message.step_key}: {exc}"
        ) from exc
    message.body, message.subject = rendered.text, rendered.subject
    message.body_html, message.segments = rendered.html, rendered.segments


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
    )


def outbound(message: Message, clinic: Clinic) -> OutboundMessage:
    """The adapter's view of a prepared row (vendor-neutral)."""
    if message.body is None or message.to_address is None:
        raise ContentError("message was not prepared before sending")
    sms = message.channel == Channel.SMS
    return OutboundMessage(
        message_id=message.id,  # type: ignore[arg-type]
        channel=Channel(message.channel),
        to=message.to_address,
        body=message.body,
        subject=message.subject,
        html=message.body_html,
        from_=clinic.sms_from if sms else clinic.email_from,
        messaging_service_sid=clinic.messaging_service_sid if sms else None,
    )
