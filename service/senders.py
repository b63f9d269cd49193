"""Senders: the numbers, Messaging Services and email addresses messages leave from,
and the rate each may send at (paced at send time by every worker together:
`service.pacing`, `service.dispatch.lanes`).

A clinic's SMS sender is its own number (`sms_from`), else its Messaging Service, else
the service's (TWILIO_MESSAGING_SERVICE_SID, then TWILIO_FROM): the order the Twilio
adapter picks them in. Its email sender is its `email_from`, else EMAIL_FROM. Clinics
sharing a number share one sender row and one rate.

A sender row is made the first time it is needed, with the carrier's usual rate for its
kind: a US long code 1 message/s, toll-free 3/s, a short code 100/s; a Messaging
Service 1/s until told the rate of its pool; email not paced, nor Twilio's magic test
number +15005550006 (test credentials reach no carrier). An operator sets the real
one (`aftercare senders update`), and a clinic may set its own number's (not a number it
shares, nor the service's default: that is an operator's decision).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from service.audit import record_audit
from service.db.models import Clinic, Sender
from service.db.types import utcnow
from service.domain import ActorType, Channel

RATE_MAX = 10_000.0  # messages per second: a large Messaging Service pool at most
BURST_MAX = 10_000
# NANP toll-free area codes.
_TOLL_FREE = re.compile(r"^\+1(800|833|844|855|866|877|888)\d{7}$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
# +15005550006 and its siblings: valid only with Twilio's test credentials, which send
# nothing to any carrier (so nothing to pace).
_TWILIO_TEST = re.compile(r"^\+1500555000\d$")


class SenderKind(StrEnum):
    LONG_CODE = "long_code"
    TOLL_FREE = "toll_free"
    SHORT_CODE = "short_code"
    MESSAGING_SERVICE = "messaging_service"
    EMAIL = "email"
    TEST = "test"  # Twilio's magic test From numbers: test credentials, no carrier


# Messages per second a sender of each kind takes unless told otherwise (None: not paced).
DEFAULT_RATES: dict[SenderKind, float | None] = {
    SenderKind.LONG_CODE: 1.0,
    SenderKind.TOLL_FREE: 3.0,
    SenderKind.SHORT_CODE: 100.0,
    SenderKind.MESSAGING_SERVICE: 1.0,
    SenderKind.EMAIL: None,
    SenderKind.TEST: None,
}


class SenderError(ValueError):
    """An invalid sender setting; `field` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Defaults:
    """The service's own senders (from settings), for clinics without their own."""

    sms: str | None = None  # TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM; None: console
    email: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> Defaults:
        sms = settings.twilio_messaging_service_sid or settings.twilio_from
        return cls(sms=sms or None, email=settings.email_from or None)


def kind_of(channel: str, address: str) -> SenderKind:
    if channel == Channel.EMAIL:
        return SenderKind.EMAIL
    if _SERVICE_SID.match(address):
        return SenderKind.MESSAGING_SERVICE
    if _TWILIO_TEST.match(address):
        return SenderKind.TEST
    if _SHORT_CODE.match(address):
        return SenderKind.SHORT_CODE
    if _TOLL_FREE.match(address):
        return SenderKind.TOLL_FREE
    return SenderKind.LONG_CODE


def default_burst(rate: float | None) -> int:
    """One second of sends (at least one)."""
    return max(1, int(rate or 1))


def own_address(clinic: Any, channel: str) -> str | None:
    """The clinic's own sender on `channel`, if it has one (a Clinic or a row of it)."""
    if channel == Channel.EMAIL:
        return clinic.email_from or None
    return clinic.sms_from or clinic.messaging_service_sid or None


def address_of(clinic: Any, channel: str, defaults: Defaults) -> str | None:
    """Where the clinic's messages on `channel` leave from; None: no sender (console)."""
    fallback = defaults.email if channel == Channel.EMAIL else defaults.sms
    return own_address(clinic, channel) or fallback


def find(session: Session, channel: str, address: str) -> Sender | None:
    query = select(Sender).where(Sender.channel == channel, Sender.address == address)
    return session.exec(query).first()


def ensure(session: Session, channel: str, address: str, *, now: datetime | None = None) -> Sender:
    """The sender row, made with its kind's defaults if there is none yet."""
    found = find(session, channel, address)
    if found is not None:
        return found
    sender = new_sender(channel, address, now=now or utcnow())
    try:
        with session.begin_nested():  # another process may make it at the same moment
            session.add(sender)
    except IntegrityError:
        found = find(session, channel, address)
        assert found is not None
        return found
    return sender


def new_sender(channel: str, address: str, *, now: datetime) -> Sender:
    kind = kind_of(channel, address)
    rate = DEFAULT_RATES[kind]
    return Sender(channel=channel, address=address, kind=kind, rate_per_second=rate,
                  burst=default_burst(rate), created_at=now, updated_at=now)  # fmt: skip


def clinics_using(session: Session, sender: Sender) -> list[int]:
    """Ids of the clinics whose own sender this is (not those on the service default)."""
    if sender.channel == Channel.EMAIL:
        where: Any = col(Clinic.email_from) == sender.address
    else:
        own_number = col(Clinic.sms_from) == sender.address
        service = (col(Clinic.sms_from).is_(None)) & (
            col(Clinic.messaging_service_sid) == sender.address
        )
        where = or_(own_number, service)
    return list(session.exec(select(Clinic.id).where(where).order_by(col(Clinic.id))).all())  # type: ignore[arg-type]


def list_senders(session: Session) -> list[tuple[Sender, int]]:
    """Every sender with how many clinics send from it as their own."""
    senders = list(session.exec(select(Sender).order_by(col(Sender.channel), col(Sender.address))))
    return [(sender, len(clinics_using(session, sender))) for sender in senders]


@dataclass(frozen=True)
class SenderChanges:
    """What to change; None leaves it. `paced=False` stops pacing (rate None)."""

    kind: str | None = None
    rate_per_second: float | None = None
    burst: int | None = None
    paced: bool | None = None


def update_sender(
    session: Session,
    sender: Sender,
    changes: SenderChanges,
    *,
    actor: str,
    actor_type: ActorType = ActorType.SYSTEM,
    clinic_id: int | None = None,
) -> list[str]:
    """Apply `changes` (all checked first); the names of the settings changed. A new kind
    without a rate takes that kind's default rate (and burst)."""
    values = _checked(sender, changes)
    changed = [name for name, value in values.items() if getattr(sender, name) != value]
    for name in changed:
        setattr(sender, name, values[name])
    if changed:
        sender.updated_at = utcnow()
        session.add(sender)
        record_audit(session, actor_type=actor_type, actor=actor, action="sender.update",
                     entity_type="sender", entity_id=sender.id, clinic_id=clinic_id,
                     detail={"changed": changed, "address": sender.address})  # fmt: skip
    return changed


def _checked(sender: Sender, changes: SenderChanges) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if changes.kind is not None:
        kinds = [kind.value for kind in SenderKind]
        if changes.kind not in kinds:
            raise SenderError("kind", f"one of {', '.join(kinds)}")
        if (changes.kind == SenderKind.EMAIL) != (sender.channel == Channel.EMAIL):
            raise SenderError("kind", f"{changes.kind} is not a kind of {sender.channel} sender")
        values["kind"] = changes.kind
        if changes.rate_per_second is None and changes.paced is None:
            values["rate_per_second"] = DEFAULT_RATES[SenderKind(changes.kind)]
            values["burst"] = default_burst(values["rate_per_second"])
    if changes.rate_per_second is not None:
        values["rate_per_second"] = check_rate(changes.rate_per_second)
        if changes.burst is None:
            values["burst"] = default_burst(values["rate_per_second"])
    if changes.paced is False:
        if changes.rate_per_second is not None:
            raise SenderError("rate_per_second", "give a rate or turn pacing off, not both")
        values["rate_per_second"] = None
    if changes.burst is not None:
        if not 1 <= changes.burst <= BURST_MAX:
            raise SenderError("burst", f"must be between 1 and {BURST_MAX}")
        values["burst"] = changes.burst
    return values


def check_rate(rate: float) -> float:
    if not (rate == rate and 0 < rate <= RATE_MAX):  # NaN fails the first test
        raise SenderError("rate_per_second", f"must be above 0 and at most {RATE_MAX:g}")
    return float(rate)


_ON_DEFAULT = (
    "the clinic sends from the service's default number: give it its own (sms_from) "
    "first, or ask an operator to set the default's rate (aftercare senders update)"
)


def own_sender_to_set(session: Session, clinic_id: int | None, address: str | None) -> Sender:
    """The sender a clinic may set the rate of: its own number (`address`, SMS), made if
    missing. Refused, naming the setting, when the clinic sends from the service's
    default sender or from a number other clinics share: their rate is an operator's to
    set (`aftercare senders update`)."""
    if address is None:
        raise SenderError("sender_rate_per_second", _ON_DEFAULT)
    sender = ensure(session, Channel.SMS, address)
    session.flush()
    others = [cid for cid in clinics_using(session, sender) if cid != clinic_id]
    if others:
        raise SenderError("sender_rate_per_second", f"{address} is shared with "
                          f"{len(others)} other clinic(s): an operator sets its rate "
                          "(aftercare senders update)")  # fmt: skip
    return sender


def sms_sender_of(session: Session, clinic: Clinic, defaults: Defaults) -> Sender | None:
    """The clinic's SMS sender row (made if missing); None without any SMS sender."""
    address = address_of(clinic, Channel.SMS, defaults)
    return None if address is None else ensure(session, Channel.SMS, address)
