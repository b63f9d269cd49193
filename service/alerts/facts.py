"""What a nurse needs about an alert without logging in: who, the number to call back,
the procedure and the day since it, and the warning sign the reply matched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from service.composer import Composer
from service.db.models import Alert, Enrollment, InboundMessage, Patient
from service.plans.model import PlanError
from service.plans.store import load_pinned

SIGN_CHARS = 60  # keeps an urgent page SMS within two segments with a long clinic name


@dataclass(frozen=True)
class AlertFacts:
    callback: str = ""  # the number the reply came from (or the patient's)
    procedure: str = ""  # "thread lift"
    day: int | None = None  # days since the procedure (0: the day itself)
    sign: str = ""  # what triage matched

    def context(self) -> dict[str, object]:
        return {"callback": self.callback, "procedure": self.procedure,
                "day": self.day if self.day is not None else "", "sign": self.sign}  # fmt: skip


def alert_facts(
    session: Session, alert: Alert, *, now: datetime, composer: Composer | None = None
) -> AlertFacts:
    inbound = session.get(InboundMessage, alert.inbound_id) if alert.inbound_id else None
    patient = session.get(Patient, alert.patient_id) if alert.patient_id else None
    enrollment = session.get(Enrollment, alert.enrollment_id) if alert.enrollment_id else None
    callback = ""
    if inbound is not None and inbound.channel == "sms":
        callback = inbound.from_address
    elif patient is not None and patient.phone:
        callback = patient.phone
    sign = _sign(session, inbound, enrollment, composer)
    if enrollment is None:
        return AlertFacts(callback=callback, sign=sign)
    day = (now - enrollment.procedure_at).days
    return AlertFacts(callback, enrollment.plan_key.replace("_", " "), max(day, 0), sign)


def _sign(
    session: Session,
    inbound: InboundMessage | None,
    enrollment: Enrollment | None,
    composer: Composer | None,
) -> str:
    """The warning sign as the plan names it (what the patient's safety-net reply named),
    else the first phrase triage matched."""
    matches = list(inbound.matches or []) if inbound else []
    named = ""
    if composer is not None and matches:
        plan = None
        if enrollment is not None:
            try:
                plan = load_pinned(session, enrollment.plan_key, enrollment.plan_version)
            except PlanError:
                plan = None
        named = composer.safety_net(plan=plan, matches=matches, language="en")["reported_sign"]
    sign = named or next((m for m in matches if ":" not in m), "")
    if len(sign) > SIGN_CHARS:
        sign = sign[: SIGN_CHARS - 4].rsplit(" ", 1)[0].rstrip(",") + " etc"
    return sign
