"""`Turn`: one inbound reply being handled in one clinic, with what the actions need.

`patient` is who wrote when we know it. On a number several patients share and nobody
was attributed, it is None and `household` lists them all: alerts then name nobody (the
inbox item lists everyone), and answers go to the number without a first name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from service.alerts import open_alert
from service.audit import record_audit
from service.composer import Composer
from service.db.models import Alert, Clinic, Enrollment, InboundMessage, Patient
from service.domain import ActorType, AlertSeverity, Channel
from service.inbound.replies import SAFETY_NET, queue_reply, reply_channel
from service.logs import kv
from service.plans.model import Plan, PlanError
from service.plans.store import load_pinned

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    session: Session
    composer: Composer
    clinic: Clinic
    patient: Patient | None
    enrollment: Enrollment | None
    inbound: InboundMessage
    now: datetime
    household: tuple[Patient, ...] = ()  # everyone of the clinic on the sender's number

    @property
    def channel(self) -> Channel:
        return Channel(self.inbound.channel)

    @property
    def shared(self) -> bool:
        return self.patient is None and len(self.household) > 1

    @property
    def on_number(self) -> tuple[Patient, ...]:
        """Everyone on the number or address the reply came from: a carrier keyword
        (STOP, START) acts on the number, so on all of them."""
        return self.household or ((self.patient,) if self.patient else ())

    def titled(self, summary: str) -> str:
        """An alert's summary; on a shared number nobody was attributed, naming everyone
        on it ("Shared number (Ana B or Ben B): Urgent reply: ...")."""
        if not self.shared:
            return summary
        names = " or ".join(f"{p.first_name} {p.last_name}".strip() for p in self.household)
        return f"Shared number ({names}): {summary}"

    @property
    def language(self) -> str:
        languages = {p.language for p in (self.on_number or ())}
        return languages.pop() if len(languages) == 1 else "en"

    def reply(self, name: str, **extra: object) -> None:
        """Answer the sender; on an unattributed shared number, by the channel they used,
        to the number itself, with no first name."""
        lead = self.patient or (self.household[0] if self.household else None)
        channel = reply_channel(lead, self.channel, name=name) if lead else self.channel
        if channel is None or (self.patient is None and channel != self.channel):
            log.warning(kv("inbound.no_reply_channel", inbound_id=self.inbound.id, reply=name))
            return
        queue_reply(self.session, composer=self.composer, clinic=self.clinic,
                    inbound=self.inbound, name=name, now=self.now, patient=self.patient,
                    channel=channel, extra=extra, language=self.language)  # fmt: skip

    def safety_net(self) -> None:
        """The reply to an urgent report, fitted to the patient's plan and the sign."""
        values = self.composer.safety_net(
            plan=self._plan(), matches=self.inbound.matches or [], language=self.language
        )
        self.reply(SAFETY_NET, **values)

    def _plan(self) -> Plan | None:
        """The patient's pinned plan, whose warning signs the safety net follows."""
        if self.enrollment is None:
            return None
        try:
            return load_pinned(self.session, self.enrollment.plan_key, self.enrollment.plan_version)
        except PlanError:  # the reply still goes, with the general signs
            log.exception(kv("inbound.plan_unreadable", enrollment_id=self.enrollment.id))
            return None

    def alert(self, severity: AlertSeverity, kind: str, summary: str) -> Alert:
        return open_alert(self.session, clinic=self.clinic, severity=severity, kind=kind,
                          summary=summary, now=self.now,
                          patient_id=self.patient.id if self.patient else None,
                          enrollment_id=self.enrollment.id if self.enrollment else None,
                          inbound_id=self.inbound.id)  # fmt: skip

    def audit(self, action: str, reason: str | None = None, patient: Patient | None = None) -> None:
        """Record what the patient's reply did (to `patient`, default: the sender)."""
        subject = patient or self.patient
        actor = f"patient:{subject.id}" if subject else "shared number"
        record_audit(self.session, actor_type=ActorType.PATIENT, actor=actor, action=action,
                     entity_type="patient" if subject else "inbound",
                     entity_id=subject.id if subject else self.inbound.id,
                     clinic_id=self.clinic.id, reason=reason,
                     detail={"inbound_id": self.inbound.id})  # fmt: skip
