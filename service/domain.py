"""The service's own vocabulary: statuses, roles, channels. Pure, no I/O.

Provider vocabulary (Twilio status strings, SMTP codes) is translated into these names
inside each channel adapter and never leaks further.
"""

from __future__ import annotations

from enum import StrEnum

# The longest clinic name the service accepts: every SMS names the clinic, and the plan
# linter proves each one fits two segments with a name this long.
CLINIC_NAME_MAX = 40
# What an on-call page text carries (a clinic's `page_detail`): the patient's first name,
# callback number, procedure and day and the warning sign, or only the number and a link.
PAGE_DETAILS = ("full", "minimal")
# How an on-call person is paged: by text, by email, or by both (every address they gave).
PAGE_BY = ("both", "sms", "email")
# Emergency numbers are short codes (911, 112, 999, 000).
EMERGENCY_PHONE_DIGITS = (2, 3)
# Record ids are 32-bit integer columns (PostgreSQL's `integer`): a larger one is no record's.
ID_MAX = 2**31 - 1


def parse_id(text: str | None) -> int | None:
    """A record id typed or linked as text (ASCII digits, 1..ID_MAX), else None.

    `str.isdigit` alone admits "²" (int() refuses it) and numbers no column can hold.
    """
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(ID_MAX)):
        return None
    value = int(text)
    return value if 1 <= value <= ID_MAX else None


class Role(StrEnum):
    STAFF = "staff"  # one clinic: enrol, manage patients, handle alerts
    CLINIC_ADMIN = "clinic_admin"  # one clinic: what staff do, and the clinic's settings
    OPERATOR = "operator"  # reads delivery data across clinics
    ADMIN = "admin"  # everything, across clinics


# Roles whose users belong to one clinic and see only its records.
CLINIC_ROLES = frozenset({Role.STAFF, Role.CLINIC_ADMIN})
# Roles that work with patients (enrol, alerts, replies): a clinic's people and admins.
CLINICAL_ROLES = frozenset({Role.STAFF, Role.CLINIC_ADMIN, Role.ADMIN})


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class Priority(StrEnum):
    ROUTINE = "routine"  # respects quiet hours
    SAFETY = "safety"  # red-flag reminders: may use the evening, never the night
    URGENT = "urgent"  # pages and safety-net replies: bypass quiet hours


class MessageKind(StrEnum):
    PLAN = "plan"  # a plan step
    CATCH_UP = "catch_up"  # one message instead of a burst after late enrolment
    AUTO_REPLY = "auto_reply"  # STOP/START/HELP confirmations, triage safety-net replies
    PAGE = "page"  # to the clinic's on-call staff
    FALLBACK = "fallback"  # the other channel after a permanent failure
    STAFF_REPLY = "staff_reply"  # written by a person from the conversation thread: sent at once


class MessageStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for next_attempt_at (first try or a retry)
    SENDING = "sending"  # claimed; if a worker dies here the row is in doubt
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the handset or mailbox has it
    UNDELIVERED = "undelivered"  # the carrier gave up after accepting
    FAILED = "failed"  # permanent error, or retries exhausted
    CANCELLED = "cancelled"  # staff cancelled, opted out, rescheduled away
    SKIPPED = "skipped"  # validity passed, paused, merged, capped: never sent, with reason
    REVIEW = "review"  # in doubt and could not be reconciled: a person decides


# A message only ever moves forward. Terminal statuses never change again, except that
# delivery receipts may still refine SENT into DELIVERED or UNDELIVERED.
TERMINAL_STATUSES = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
        MessageStatus.CANCELLED,
        MessageStatus.SKIPPED,
    }
)
PENDING_STATUSES = frozenset({MessageStatus.SCHEDULED})


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class AlertSeverity(StrEnum):
    URGENT = "urgent"  # page now, escalate until acknowledged
    CONCERN = "concern"  # review within the day
    TASK = "task"  # a call-back or follow-up for staff (check-in "3", opt-out, failed safety)


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ActorType(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    SYSTEM = "system"
    PATIENT = "patient"
