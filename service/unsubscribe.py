"""Email unsubscribe: signed links (RFC 8058 one-click) and what following one does.

A token names a patient and is signed with SECRET_KEY, so it cannot be forged or
pointed at someone else. Tokens do not expire: an unsubscribe link in a months-old
email must still work.
"""

from __future__ import annotations

from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, select

from service.audit import record_audit
from service.db.models import Message, Patient
from service.domain import ActorType, Channel, MessageStatus
from service.outbox import transition

_SALT = "aftercare.unsubscribe.email"


class InvalidToken(ValueError):
    """The unsubscribe link was altered, truncated or signed with another key."""


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=_SALT)


def make_token(*, secret_key: str, patient_id: int) -> str:
    return str(_serializer(secret_key).dumps({"p": patient_id}))


def verify_token(*, secret_key: str, token: str) -> int:
    """The patient id the token was made for; raises InvalidToken."""
    try:
        payload = _serializer(secret_key).loads(token)
    except BadSignature:
        raise InvalidToken("invalid unsubscribe link") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("p"), int):
        raise InvalidToken("invalid unsubscribe link")
    return int(payload["p"])


def unsubscribe_url(*, public_base_url: str, secret_key: str, patient_id: int) -> str:
    token = make_token(secret_key=secret_key, patient_id=patient_id)
    return f"{public_base_url.rstrip('/')}/unsubscribe/{token}"


def list_unsubscribe_headers(
    *, public_base_url: str, secret_key: str, patient_id: int
) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers for an email to this patient."""
    url = unsubscribe_url(
        public_base_url=public_base_url, secret_key=secret_key, patient_id=patient_id
    )
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def unsubscribe_email(session: Session, *, patient: Patient, now: datetime) -> int:
    """Opt the patient out of email and cancel their pending emails; returns how many.

    Idempotent: a second click keeps the first opt-out time and records nothing new.
    """
    if patient.email_opted_out_at is not None:
        return 0
    patient.email_opted_out_at = now
    session.add(patient)
    pending = session.exec(
        select(Message).where(
            Message.patient_id == patient.id,
            Message.channel == Channel.EMAIL,
            Message.status == MessageStatus.SCHEDULED,
        )
    ).all()
    for message in pending:
        transition(
            session, message, MessageStatus.CANCELLED, reason="patient unsubscribed from email",
            now=now, actor="patient",
        )  # fmt: skip
    record_audit(
        session,
        actor_type=ActorType.PATIENT,
        action="patient.email_unsubscribed",
        entity_type="patient",
        entity_id=patient.id,
        clinic_id=patient.clinic_id,
        reason="unsubscribe link",
        detail={"cancelled_messages": len(pending)},
    )
    return len(pending)
