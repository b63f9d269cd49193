"""Email unsubscribe: signed links (RFC 8058 one-click) and what following one does.

A token names a patient and is signed with SECRET_KEY, so it cannot be forged or
pointed at someone else. Tokens do not expire: an unsubscribe link in a months-old
email must still work. Every email to a patient carries the link three times: the
`List-Unsubscribe` header (https and mailto) with `List-Unsubscribe-Post` for mail
clients' one-click button, and a visible line at the end of the text and HTML body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup, escape
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
    *, public_base_url: str, secret_key: str, patient_id: int, mailbox: str | None = None
) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers for an email to this patient. `mailbox` (our From
    address, whose replies reach the inbound webhook) adds a mailto: an email with the
    subject "unsubscribe" is read as an opt-out there."""
    url = unsubscribe_url(
        public_base_url=public_base_url, secret_key=secret_key, patient_id=patient_id
    )
    targets = [f"<{url}>"]
    address = parseaddr(mailbox or "")[1]
    if "@" in address:
        targets.append(f"<mailto:{address}?subject=unsubscribe>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Links for one deployment (its public URL and signing key)."""

    public_base_url: str
    secret_key: str

    def url(self, patient_id: int) -> str:
        return unsubscribe_url(public_base_url=self.public_base_url,
                               secret_key=self.secret_key, patient_id=patient_id)  # fmt: skip

    def headers(self, patient_id: int, mailbox: str | None) -> dict[str, str]:
        return list_unsubscribe_headers(public_base_url=self.public_base_url,
                                        secret_key=self.secret_key, patient_id=patient_id,
                                        mailbox=mailbox)  # fmt: skip


_URL = re.compile(r"https?://[^\s<>\"]+")


def with_footer(body: str, html: str | None, footer: str) -> tuple[str, str | None]:
    """The email's text and HTML with the unsubscribe line added at the end (its URL a
    link in the HTML part)."""
    text = f"{body.rstrip()}\n\n{footer.strip()}"
    if html is None:
        return text, None
    paragraph = str(
        Markup('<p style="font-size: 13px; color: #555;">{}</p>\n').format(_linked(footer))
    )
    at = html.rfind("</body>")
    return text, (html[:at] + paragraph + html[at:]) if at >= 0 else html + paragraph


def _linked(text: str) -> Markup:
    parts, last = [], 0
    for match in _URL.finditer(text):
        parts.append(escape(text[last : match.start()]))
        parts.append(Markup('<a href="{0}">{0}</a>').format(match.group(0)))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


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
