"""Messages in review: in doubt, could not be reconciled with the provider, so a person
decides. `retry` puts one back in the queue; the dispatcher then sends it like any
other row (its validity window still applies: advice gone stale is skipped, not sent).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from service.audit import record_audit
from service.db.models import Message
from service.domain import ActorType, MessageStatus
from service.outbox import transition


class ReviewError(ValueError):
    """The message cannot be retried; the message says why."""


def retry(session: Session, message_id: int, *, actor: str, now: datetime) -> Message:
    """Queue a message in review to be sent again, now."""
    message = session.get(Message, message_id, with_for_update=True)
    if message is None:
        raise ReviewError(f"no message {message_id}")
    if message.status != MessageStatus.REVIEW:
        raise ReviewError(
            f"message {message_id} is {message.status}, not in review: only a message in "
            "review can be retried"
        )
    transition(session, message, MessageStatus.SCHEDULED, reason=f"retried from review by {actor}",
               now=now, actor=actor)  # fmt: skip
    message.next_attempt_at = now
    record_audit(
        session, actor_type=ActorType.SYSTEM, actor=actor, action="message.retry",
        entity_type="message", entity_id=message.id, clinic_id=message.clinic_id,
    )  # fmt: skip
    return message
