"""Enrolment use cases: enrol (one or many), pause, resume, cancel, reschedule, opt-out.

A package rather than one module so each part stays small: `schedule` and `limits` are
pure, `planning` reads the database once per batch, `core` writes with bulk inserts,
`operations` and `reschedule` change existing enrolments.
"""

from service.enrollment.core import (
    BulkResult,
    EnrolRequest,
    EnrolResult,
    check_procedure_at,
    check_signoff,
    enrol,
    enrol_many,
)
from service.enrollment.errors import EnrolError
from service.enrollment.operations import cancel, cancel_pending_sms, pause, resume
from service.enrollment.reschedule import RescheduleResult, reschedule

__all__ = [
    "BulkResult",
    "EnrolError",
    "EnrolRequest",
    "EnrolResult",
    "RescheduleResult",
    "cancel",
    "cancel_pending_sms",
    "check_procedure_at",
    "check_signoff",
    "enrol",
    "enrol_many",
    "pause",
    "reschedule",
    "resume",
]
