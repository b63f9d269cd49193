"""Whether the service can reach a patient at all, and what stands in the way, in words
for staff ("Nothing can be sent: no SMS consent and no email"). Pure: it reads the
patient's attributes only, with the same rules as planning and the pre-send checks
(`service.enrollment.planning`, `service.dispatch.checks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reach:
    texts: str | None  # why texts cannot go, or None
    emails: str | None  # why emails cannot go, or None
    has_phone: bool
    has_email: bool

    @property
    def nothing(self) -> bool:
        return self.texts is not None and self.emails is not None

    @property
    def problem(self) -> bool:
        """Something staff should act on: nothing can be sent, or a channel the patient
        gave us is blocked (a missing address they never gave is not a problem)."""
        if self.nothing:
            return True
        blocked_given = (self.texts is not None and self.has_phone) or (
            self.emails is not None and self.has_email
        )
        return blocked_given

    @property
    def summary(self) -> str:
        if self.nothing:
            return f"Nothing can be sent: {self.texts} and {self.emails}"
        if self.texts is not None:
            return f"Email only: {self.texts}"
        if self.emails is not None:
            return f"Texts only: {self.emails}"
        return "Texts and email"


def reach_of(patient: Any) -> Reach:
    return Reach(
        texts=_texts_blocked(patient),
        emails=_emails_blocked(patient),
        has_phone=bool(patient.phone),
        has_email=bool(patient.email),
    )


def _texts_blocked(patient: Any) -> str | None:
    if not patient.phone:
        return "no phone number"
    if patient.sms_opted_out_at is not None:
        return "texted STOP"
    if getattr(patient, "sms_unreachable_at", None) is not None:
        return "the number cannot take texts"
    if not patient.phone_can_sms:
        return "the number is a landline"
    if patient.sms_consent_at is None:
        return "no SMS consent"
    return None


def _emails_blocked(patient: Any) -> str | None:
    if not patient.email:
        return "no email"
    if patient.email_opted_out_at is not None:
        return "unsubscribed from email"
    if patient.email_consent_at is None:
        return "no email consent"
    return None
