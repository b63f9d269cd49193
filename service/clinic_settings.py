"""Changing a clinic's settings, and bringing what depends on them up to date in the
same transaction: the one path for the REST API, the web app and the CLI.

- The settings are checked, stored and audited by `service.clinics.update_clinic` (old
  and new value of each; the clinic row locked).
- Quiet hours, the night window or the sender rate: every unsent message of the clinic
  is re-planned with the guarantees of a reschedule (`service.enrollment.replan`).
- The acknowledgement window: open urgent alerts' next re-page moves by the difference.
- The reply response time or the time zone: unread replies are due by the new rule.

What was brought up to date is written to the audit log as one `clinic.replan` entry.
Plan messages are rendered when they are sent, so a new name, phone or 24-hour line
reaches every one not yet sent without further work. A message written in advance (a
catch-up after a late enrolment, which waits at most until the night window ends) keeps
the words it was written with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from service.alerts import retime_escalations
from service.audit import record_audit
from service.clinics import ClinicChanges, SenderRule, actor_type_of, update_clinic
from service.db.models import Clinic
from service.enrollment.replan import TIMING_SETTINGS, ReplanResult, replan_clinic
from service.inbox import retime_unread

# Settings the replies inbox's due times depend on.
REPLY_SETTINGS = frozenset(
    {"reply_response_minutes", "reply_day_start", "reply_day_end", "reply_night_due", "timezone"}
)


@dataclass
class SettingsResult:
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)  # setting: from, to
    replanned: ReplanResult | None = None
    alerts_retimed: int = 0
    replies_retimed: int = 0

    @property
    def changed(self) -> list[str]:
        return list(self.changes)


def change_settings(
    session: Session,
    clinic: Clinic,
    changes: ClinicChanges,
    *,
    actor: str,
    now: datetime,
    daily_cap: int,
    sender_rule: SenderRule | None = None,
) -> SettingsResult:
    """Apply `changes` (ClinicError naming a field, nothing changed) and their effects."""
    result = SettingsResult(update_clinic(session, clinic, changes, actor=actor,
                                          sender_rule=sender_rule))  # fmt: skip
    touched = set(result.changes)
    if touched & TIMING_SETTINGS:
        result.replanned = replan_clinic(session, clinic=clinic, now=now, actor=actor,
                                         daily_cap=daily_cap)  # fmt: skip
    if "alert_ack_minutes" in touched:
        old = int(result.changes["alert_ack_minutes"]["from"])
        result.alerts_retimed = retime_escalations(session, clinic=clinic, old_minutes=old)
    if touched & REPLY_SETTINGS:
        result.replies_retimed = retime_unread(session, clinic=clinic)
    if result.replanned or result.alerts_retimed or result.replies_retimed:
        detail = {"alerts_retimed": result.alerts_retimed,
                  "replies_retimed": result.replies_retimed,
                  **(result.replanned.as_dict() if result.replanned else {})}  # fmt: skip
        record_audit(session, actor_type=actor_type_of(actor), actor=actor,
                     action="clinic.replan", entity_type="clinic", entity_id=clinic.id,
                     clinic_id=clinic.id, reason=f"changed: {', '.join(result.changed)}",
                     detail=detail)  # fmt: skip
    return result
