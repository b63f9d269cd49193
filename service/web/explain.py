"""Plain-language answers to "why is this message in this state?" for staff pages.

The reason itself is recorded by the use cases (status_reason and each event's reason);
this puts it into a sentence with the relevant times on the clinic's clock
(`service.web.timeline_text` turns stored reasons into plain words).
"""

from __future__ import annotations

from datetime import timedelta

from service.db.models import Alert, Message
from service.domain import MessageKind, MessageStatus, Priority
from service.web.templating import local_time
from service.web.timeline_text import plain_reason

HELD_FOR_ALERT = "held: patient has an open alert"


def held_by(message: Message, holding: list[Alert]) -> Alert | None:
    """The open alert a waiting routine plan message is held for, if any (the dispatcher
    holds those while an urgent or concern alert is unresolved: service.dispatch.checks)."""
    routine = message.kind == MessageKind.PLAN and message.priority == Priority.ROUTINE
    if message.status != MessageStatus.SCHEDULED or not routine or not holding:
        return None
    return holding[0]


def explain(message: Message, tz: str, holding: list[Alert] | None = None) -> str:
    """One sentence: what happened to the message or what will happen, and why."""
    status = MessageStatus(message.status)
    if status == MessageStatus.SCHEDULED:
        return _scheduled(message, tz, held_by(message, holding or []))
    if status == MessageStatus.SENDING:
        return f"Being handed to the provider since {local_time(message.claimed_at, tz)}."
    if status == MessageStatus.SENT:
        return f"Sent at {local_time(message.sent_at, tz)}; waiting for the delivery receipt."
    if status == MessageStatus.DELIVERED:
        return f"Delivered at {local_time(message.delivered_at or message.sent_at, tz)}."
    if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        return _failed(message, tz)
    if status == MessageStatus.REVIEW:
        return (
            "In doubt: the provider could not confirm whether it was sent. "
            "A person must check before any resend."
        )
    reason = plain_reason(message.status_reason, tz)
    if reason:
        return _sentence(reason)
    return "Not sent." if status == MessageStatus.SKIPPED else "Cancelled."


def _scheduled(message: Message, tz: str, alert: Alert | None) -> str:
    text = f"Planned for {local_time(message.due_at, tz)}"
    # Pacing moves a send by seconds; only a move a reader would notice is worth a word.
    if abs(message.next_attempt_at - message.due_at) >= timedelta(minutes=1):
        text += f"; will go at {local_time(message.next_attempt_at, tz)} at the earliest"
    reason = message.status_reason or ""
    if alert is not None:
        wait = "routine messages wait until it is resolved"
        text += f". On hold while alert {alert.id} is open: {wait}"
    elif reason and not reason.startswith(HELD_FOR_ALERT):  # an old hold, since lifted
        text += f" ({_lower(plain_reason(reason, tz))})"
    if message.attempts:
        text += f"; {message.attempts} earlier attempt{'s' if message.attempts > 1 else ''}"
    return text + "."


def _failed(message: Message, tz: str) -> str:
    what = "Not delivered" if message.status == MessageStatus.UNDELIVERED else "Failed"
    detail = message.error_text or plain_reason(message.status_reason, tz)
    detail = detail or "the provider gave no reason"
    code = f" (provider code {message.error_code})" if message.error_code else ""
    fallback = (
        " The plan sends it by email instead." if message.fallback_channel == "email" else
        " The plan sends it by text instead." if message.fallback_channel == "sms" else ""
    )  # fmt: skip
    return f"{what}: {_lower(detail)}{code}.{fallback}"


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text
