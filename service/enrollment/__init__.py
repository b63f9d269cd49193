"""Enrolment use cases: enrol (one or many), pause, resume, cancel, reschedule, and
texts lost (STOP, a landline) and regained (START).

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
from service.enrollment.operations import cancel, pause
from service.enrollment.reactivate import resume
from service.enrollment.reschedule import RescheduleResult, reschedule
from service.enrollment.sms_loss import SmsBack, SmsLoss, lose_sms, regain_sms

__all__ = [
    "BulkResult",
    "EnrolError",
    "EnrolRequest",
    "EnrolResult",
    "RescheduleResult",
    "SmsBack",
    "SmsLoss",
    "cancel",
    "check_procedure_at",
    "check_signoff",
    "enrol",
    "enrol_many",
    "lose_sms",
    "pause",
    "regain_sms",
    "reschedule",
    "resume",
]
