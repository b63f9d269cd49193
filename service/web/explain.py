"""Plain-language answers to "why is this message in this state?" for staff pages.

The reason itself is recorded by the use cases (status_reason and each event's reason);
this only puts it into a sentence with the relevant times.
"""

from __future__ import annotations

from datetime import timedelta

from service.db.models import Message
from service.domain import MessageStatus
from service.web.templating import local_time


def explain(message: Message, tz: str) -> str:
    """One sentence: what happened to the message or what will happen, and why."""
    status = MessageStatus(message.status)
    reason = message.status_reason
    if status == MessageStatus.SCHEDULED:
        return _scheduled(message, tz)
    if status == MessageStatus.SENDING:
        return f"Being handed to the provider since {local_time(message.claimed_at, tz)}."
    if status == MessageStatus.SENT:
        by = message.provider or "the provider"
        return f"Accepted by {by} at {local_time(message.sent_at, tz)}; awaiting delivery receipt."
    if status == MessageStatus.DELIVERED:
        return f"Delivered at {local_time(message.delivered_at or message.sent_at, tz)}."
    if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        return _failed(message)
    if status == MessageStatus.REVIEW:
        return (
            "In doubt: the provider could not confirm whether it was sent. "
            "A person must check before any resend."
        )
    verb = "Skipped" if status == MessageStatus.SKIPPED else "Cancelled"
    return f"{verb}: {reason}." if reason else f"{verb}."


def _scheduled(message: Message, tz: str) -> str:
    text = f"Planned for {local_time(message.due_at, tz)}"
    # Pacing moves a send by seconds; only a move a reader would notice is worth a word.
    if abs(message.next_attempt_at - message.due_at) >= timedelta(minutes=1):
        text += f"; will go at {local_time(message.next_attempt_at, tz)}"
    if message.status_reason:
        text += f" ({message.status_reason})"
    if message.attempts:
        text += f"; {message.attempts} earlier attempt(s)"
    return text + "."


def _failed(message: Message) -> str:
    what = "Not delivered" if message.status == MessageStatus.UNDELIVERED else "Failed"
    detail = message.error_text or message.status_reason or "no reason given by the provider"
    code = f" (provider code {message.error_code})" if message.error_code else ""
    fallback = (
        f" The plan falls back to {message.fallback_channel}." if message.fallback_channel else ""
    )
    return f"{what}: {detail}{code}.{fallback}"
