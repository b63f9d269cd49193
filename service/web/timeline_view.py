"""What the timeline shows for each message on the page: a human title, the sentence
saying why it is in its state, and for a message still to come the text the patient
will receive, rendered now exactly as the dispatcher would (pinned plan, patient's
language and channel, current contact details), marked as a preview.

Only the page's messages are rendered, so the cost follows the page, not the history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from service.db.models import Alert, Enrollment, Message
from service.dispatch.content import ContentError, PlanCache, content_of
from service.domain import Channel, EnrollmentStatus, MessageKind, MessageStatus
from service.plans.model import Plan, PlanError
from service.rendering import Renderer
from service.web.explain import explain, held_by
from service.web.templating import local_time
from service.web.timeline_data import Timeline
from service.web.timeline_text import day_label, message_title


@dataclass(frozen=True)
class Preview:
    """The text as it would go out if sent now; `error` when it cannot be rendered (the
    dispatcher would fail it too, so staff should know before it is due)."""

    subject: str | None = None
    text: str | None = None
    segments: int | None = None
    error: str | None = None
    unsubscribe_line: bool = False  # an email to a patient gets one at send time


@dataclass(frozen=True)
class MessageView:
    title: str
    why: str
    preview: Preview | None
    held_by: Alert | None


def message_views(
    session: Session, timeline: Timeline, *, renderer: Renderer, plans: PlanCache
) -> dict[int, MessageView]:
    """Per message id on the page: title, explanation and (for what is to come) preview."""
    tz = timeline.clinic.timezone
    enrollments = {e.id: e for e in timeline.enrollments}
    pinned = _plans(session, plans, timeline.enrollments)
    holding = timeline.holding_alerts
    views = {}
    for item in timeline.items:
        m = item.message
        if m is None or m.id is None:
            continue
        enrollment = enrollments.get(m.enrollment_id)
        plan = pinned.get(m.enrollment_id) if m.enrollment_id else None
        views[m.id] = MessageView(
            title=_title(m, plan, enrollment, timeline.patient.timezone),
            why=explain(m, tz, holding) + _paused(m, enrollment, tz),
            preview=_preview(session, m, timeline, enrollment, renderer, plans),
            held_by=held_by(m, holding),
        )
    return views


def plan_titles(
    session: Session, plans: PlanCache, enrollments: list[Enrollment]
) -> dict[int | None, str]:
    """Each enrolment's plan by its title ("Botox aftercare"), not its key."""
    return {eid: plan.title for eid, plan in _plans(session, plans, enrollments).items()}


def _plans(
    session: Session, plans: PlanCache, enrollments: list[Enrollment]
) -> dict[int | None, Plan]:
    found: dict[int | None, Plan] = {}
    for e in enrollments:
        try:
            found[e.id] = plans.get(session, e.plan_key, e.plan_version)
        except (PlanError, KeyError, ValueError):
            continue  # the title falls back to the step key in words
    return found


def _paused(message: Message, enrollment: Enrollment | None, tz: str) -> str:
    """A waiting plan message of a paused plan: held until it is resumed."""
    if enrollment is None or enrollment.status != EnrollmentStatus.PAUSED:
        return ""
    if message.status != MessageStatus.SCHEDULED or message.kind != MessageKind.PLAN:
        return ""
    since = f" since {local_time(enrollment.paused_at, tz)}" if enrollment.paused_at else ""
    return (f" On hold: the plan is paused{since}; if it is still paused when this falls "
            "due, it is not sent.")  # fmt: skip


def _title(message: Message, plan: Plan | None, enrollment: Enrollment | None, tz: str) -> str:
    day = day_label(message.due_at, enrollment.procedure_at, tz) if enrollment else None
    return message_title(
        kind=message.kind, step_key=message.step_key, occurrence=message.occurrence,
        channel=message.channel, plan=plan, day=day, context=message.context,
    )  # fmt: skip


def _preview(
    session: Session, message: Message, timeline: Timeline, enrollment: Enrollment | None,
    renderer: Renderer, plans: PlanCache,
) -> Preview | None:  # fmt: skip
    waiting = message.status == MessageStatus.SCHEDULED
    if not waiting or message.patient_id is None or message.kind == MessageKind.PAGE:
        return None
    try:
        values = content_of(session, message, patient=timeline.patient, enrollment=enrollment,
                            clinic=timeline.clinic, renderer=renderer, plans=plans)  # fmt: skip
    except ContentError as exc:
        return Preview(error=str(exc))
    return Preview(
        subject=values["subject"],
        text=values["body"],
        segments=values["segments"],
        unsubscribe_line=message.channel == Channel.EMAIL,
    )
