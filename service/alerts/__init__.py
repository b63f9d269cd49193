"""Alerts, the pages they send and their escalation: the one home that inbound handling,
the replies inbox and the escalation job all call down into (`service.alerts.pages`
never imports `service.inbound` or `service.inbox`; lint-imports checks it)."""

from service.alerts.core import (
    HOLDING_SEVERITIES,
    UNRESOLVED,
    AlertError,
    acknowledge,
    escalate_due,
    open_alert,
    open_urgent_alert,
    patient_has_open_alert,
    resolve,
    retime_escalations,
    unresolved_of_kind,
)

__all__ = [
    "HOLDING_SEVERITIES",
    "UNRESOLVED",
    "AlertError",
    "acknowledge",
    "escalate_due",
    "open_alert",
    "open_urgent_alert",
    "patient_has_open_alert",
    "resolve",
    "retime_escalations",
    "unresolved_of_kind",
]
